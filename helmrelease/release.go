package helmrelease

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/build"
)

// Release is the desired state of one Helm release: which chart, which
// values, and how to install, upgrade, test and remediate it.
type Release struct {
	// Name is the release name (a DNS-1123 subdomain of at most 53
	// characters, as Helm requires).
	Name string
	// Namespace is the target namespace; the release's records are stored
	// there too, as Helm does.
	Namespace string
	// CreateNamespace creates Namespace before installing or upgrading when
	// it does not exist.
	CreateNamespace bool

	// Chart says where the chart comes from.
	Chart ChartRef

	// Values are the inline values. They are merged over ValuesFrom, so
	// they win.
	Values map[string]any
	// ValuesFrom are values the caller loaded from ConfigMaps and Secrets,
	// merged in order (later wins) under Values. See [MergeValues].
	ValuesFrom []ValuesFrom

	// Timeout bounds each Helm action (install, upgrade, rollback,
	// uninstall, test) and its wait. Default 5 minutes.
	Timeout time.Duration
	// DisableWait keeps install and upgrade from waiting for the release's
	// workloads to become ready. Waiting is what makes a release that never
	// becomes ready fail, and so what triggers remediation.
	DisableWait bool
	// WaitForJobs also waits for the release's Jobs to complete.
	WaitForJobs bool
	// DisableHooks skips the chart's hooks.
	DisableHooks bool
	// MaxHistory bounds the revisions kept in the cluster. 0 means
	// [DefaultMaxHistory]; a negative value keeps every revision. Failed
	// attempts are counted from the kept history, so keep at least
	// 2×(Retries+1)+1 revisions.
	MaxHistory int
	// CRDs is what to do with the chart's crds/ folder, on install and on
	// upgrade, unless [InstallPolicy.CRDs] or [UpgradePolicy.CRDs] says
	// otherwise. Default [CRDCreate].
	CRDs CRDPolicy
	// Labels are added to every object the chart renders (for example the
	// labels naming the unit that owns the release), after the post
	// renderers. Changing them upgrades the release.
	Labels map[string]string
	// PostRenderers change the manifests Helm rendered, in order, before
	// they are applied (Flux's postRenderers). Changing them upgrades the
	// release.
	PostRenderers []PostRenderer

	// DependsOn names releases that must be ready before this one is
	// reconciled by [Reconciler.ReconcileAll]: "name" for a release in the
	// same namespace or "namespace/name".
	DependsOn []string

	// Install and Upgrade configure retries and remediation.
	Install InstallPolicy
	Upgrade UpgradePolicy
	// Test runs the chart's tests after an install or upgrade.
	Test TestPolicy
	// Drift configures drift detection between the release manifest and
	// the live objects, when nothing else changed.
	Drift DriftPolicy
}

// DefaultTimeout is the default [Release.Timeout].
const DefaultTimeout = 5 * time.Minute

// DefaultMaxHistory is the default [Release.MaxHistory].
const DefaultMaxHistory = 10

// ChartRef says where a chart comes from: an HTTP chart repository (an
// index.yaml), an OCI registry, or a path on disk (for example in a source
// artifact). Set RepoURL or Path, not both.
type ChartRef struct {
	// RepoURL is an HTTP(S) chart repository ("https://charts.example.com",
	// holding index.yaml) or an OCI repository ("oci://registry/charts",
	// under which the chart is the repository RepoURL/Name).
	RepoURL string
	// Name is the chart's name in the repository.
	Name string
	// Version selects the chart version: an exact version, or a semver
	// range ("1.x", ">=1.2 <2", "~1.4") of which the newest match wins, or
	// empty for the newest stable version. For OCI, an exact tag that is not
	// a version ("latest") is used as is.
	Version string
	// Path is a chart directory or archive (.tgz) on disk.
	Path string

	// ValuesFiles are files of the chart, by their path in it
	// ("values.yaml", "values-prod.yaml"), merged in order (later wins)
	// into the values that replace the chart's default values, as Flux's
	// HelmChart valuesFiles do: values.yaml counts only if listed. The
	// release's ValuesFrom and Values are then merged over them as over
	// values.yaml. A listed file the chart does not have is a
	// [*ValuesFileError] ([ErrValuesFileNotFound]).
	ValuesFiles []string
	// IgnoreMissingValuesFiles skips listed values files the chart does
	// not have.
	IgnoreMissingValuesFiles bool

	// Auth is basic authentication for the repository or registry.
	Auth *BasicAuth
	// PlainHTTP talks plain HTTP to an OCI registry (for a registry on
	// 127.0.0.1). HTTP repositories follow the scheme of RepoURL.
	PlainHTTP bool
}

// PostRenderer changes the manifests Helm rendered before they are
// applied, as a kustomize overlay over them: the images and patches of
// Flux's postRenderers[].kustomize, applied with [build.Transform]. As in
// Helm, hooks are not post-rendered.
type PostRenderer struct {
	// Images override container images (kustomize's images).
	Images []build.Image
	// Patches are strategic merge or JSON 6902 patches (kustomize's
	// patches), each applied to the objects its Target selects, or for a
	// strategic merge patch without Target, to the object it names.
	Patches []build.Patch
}

// BasicAuth holds a user name and password (or token).
type BasicAuth struct {
	Username string
	Password string
}

// BasicAuthFromSecret reads the "username" and "password" keys of a
// Secret's data, as Flux and Argo CD store repository credentials. It
// returns an error naming the missing key.
func BasicAuthFromSecret(data map[string][]byte) (*BasicAuth, error) {
	u, ok := data["username"]
	if !ok {
		return nil, fmt.Errorf("helmrelease: credentials: missing key \"username\"")
	}
	p, ok := data["password"]
	if !ok {
		return nil, fmt.Errorf("helmrelease: credentials: missing key \"password\"")
	}
	return &BasicAuth{Username: string(u), Password: string(p)}, nil
}

// CRDPolicy is what to do with the CRDs in a chart's crds/ folder.
type CRDPolicy string

const (
	// CRDCreate creates CRDs that do not exist, on install and upgrade, and
	// never changes existing ones (Helm's own behaviour on install).
	CRDCreate CRDPolicy = "Create"
	// CRDCreateReplace creates missing CRDs and replaces existing ones with
	// the chart's, on install and upgrade.
	CRDCreateReplace CRDPolicy = "CreateReplace"
	// CRDSkip leaves the crds/ folder alone.
	CRDSkip CRDPolicy = "Skip"
)

// InstallPolicy configures installs.
type InstallPolicy struct {
	// Retries is how many times a failed install is retried within one
	// [Reconciler.Reconcile] (and, as the count is kept in the release
	// history, across calls) before the release is reported
	// [ReasonRetriesExhausted].
	Retries int
	// KeepFailed leaves every failed install in place instead of
	// uninstalling it (the next attempt then upgrades it).
	KeepFailed bool
	// KeepLastFailed uninstalls a failed install between retries but
	// leaves the last one in place when the retries are exhausted, for
	// inspection, as Flux's helm-controller does by default
	// (install.remediation.remediateLastFailure: false). It stays until the
	// chart, the values or the configuration change; the next attempt
	// uninstalls it first. By default the last failure is uninstalled too.
	KeepLastFailed bool
	// CRDs, if set, is the CRD policy of installs (Flux's install.crds),
	// in place of [Release.CRDs].
	CRDs CRDPolicy
	// RetryOnFailure leaves a failed install in place, not remediated,
	// and makes no other attempt in the call; the next call upgrades it,
	// however many attempts failed before (Retries, KeepFailed and
	// KeepLastFailed are not used). The caller paces the attempts. Flux's
	// install.strategy RetryOnFailure.
	RetryOnFailure bool
}

// RemediationStrategy is what is done with a failed upgrade.
type RemediationStrategy string

const (
	// RemediateRollback rolls a failed upgrade back to the last successful
	// revision (the default).
	RemediateRollback RemediationStrategy = "rollback"
	// RemediateUninstall uninstalls a failed upgrade (its history kept);
	// the next attempt is then an install, counted against
	// [InstallPolicy.Retries]. It is the way out of an upgrade that cannot
	// be applied in place, such as a change of an immutable field.
	RemediateUninstall RemediationStrategy = "uninstall"
)

// UpgradePolicy configures upgrades.
type UpgradePolicy struct {
	// Retries is how many times a failed upgrade is retried before the
	// release is reported [ReasonRetriesExhausted].
	Retries int
	// KeepFailed leaves every failed upgrade in place instead of
	// remediating it.
	KeepFailed bool
	// KeepLastFailed remediates a failed upgrade between retries but
	// leaves the last one in place when the retries are exhausted (Flux's
	// upgrade.remediation.remediateLastFailure: false, its default when
	// retries is 0). By default the last failure is remediated too.
	KeepLastFailed bool
	// Remediation is how a failed upgrade is remediated: [RemediateRollback]
	// (the default, also for "") or [RemediateUninstall].
	Remediation RemediationStrategy
	// Force replaces objects that cannot be patched.
	Force bool
	// CRDs, if set, is the CRD policy of upgrades (Flux's upgrade.crds,
	// whose default there is [CRDSkip]), in place of [Release.CRDs].
	CRDs CRDPolicy
	// RetryOnFailure leaves a failed upgrade in place, neither rolled back
	// nor uninstalled, and makes no other attempt in the call; the next
	// call upgrades again, however many attempts failed before (Retries,
	// KeepFailed, KeepLastFailed and Remediation are not used). The caller
	// paces the attempts. Flux's upgrade.strategy RetryOnFailure.
	RetryOnFailure bool
}

// TestPolicy configures the chart's tests.
type TestPolicy struct {
	// Enable runs the tests after every install and upgrade.
	Enable bool
	// IgnoreFailures reports failed tests without failing the release. By
	// default a failed test fails the attempt, which is then remediated.
	IgnoreFailures bool
}

// DriftMode says what to do when live objects differ from the release.
type DriftMode string

const (
	// DriftDisabled skips drift detection (the default).
	DriftDisabled DriftMode = ""
	// DriftWarn detects and reports drift in [Status.Drift] and events.
	DriftWarn DriftMode = "Warn"
	// DriftCorrect detects drift and corrects it by server-side applying
	// the release's objects again, without a new revision.
	DriftCorrect DriftMode = "Correct"
)

// DriftPolicy configures drift detection.
type DriftPolicy struct {
	Mode DriftMode
	// Ignore lists fields that drift detection neither reports nor
	// corrects: ones another controller or a person owns (a
	// HorizontalPodAutoscaler's /spec/replicas, an annotation a webhook
	// adds), as Flux's spec.driftDetection.ignore.
	Ignore []DriftIgnore
}

// DriftIgnore is one rule of [DriftPolicy.Ignore].
type DriftIgnore struct {
	// Paths are JSON pointers (RFC 6901) into the objects:
	// "/spec/replicas", "/metadata/annotations/example.com~1owner" ("~1"
	// stands for "/" in a key).
	Paths []string
	// Target selects the objects the rule applies to (see
	// [build.Selector.Compile]); nil: every object of the release.
	Target *build.Selector
}

// Key is "namespace/name", the release's name in [Release.DependsOn] and
// in [Reconciler.ReconcileAll] errors.
func (r *Release) Key() string { return r.Namespace + "/" + r.Name }

var releaseName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate reports what is wrong with the spec, as a [*SpecError].
func (r *Release) Validate() error {
	var problems []string
	if r.Name == "" {
		problems = append(problems, "name is empty")
	} else if len(r.Name) > 53 || !releaseName.MatchString(r.Name) {
		problems = append(problems, fmt.Sprintf("name %q is not a valid release name (DNS-1123 subdomain, at most 53 characters)", r.Name))
	}
	if r.Namespace == "" {
		problems = append(problems, "namespace is empty")
	}
	c := r.Chart
	switch {
	case c.RepoURL == "" && c.Path == "":
		problems = append(problems, "chart: set RepoURL or Path")
	case c.RepoURL != "" && c.Path != "":
		problems = append(problems, "chart: set RepoURL or Path, not both")
	case c.RepoURL != "":
		if c.Name == "" {
			problems = append(problems, "chart: Name is empty")
		}
		if !strings.HasPrefix(c.RepoURL, "oci://") && !strings.HasPrefix(c.RepoURL, "http://") && !strings.HasPrefix(c.RepoURL, "https://") {
			problems = append(problems, fmt.Sprintf("chart: RepoURL %q: want an http://, https:// or oci:// URL", c.RepoURL))
		}
	}
	for _, p := range []CRDPolicy{r.CRDs, r.Install.CRDs, r.Upgrade.CRDs} {
		switch p {
		case "", CRDCreate, CRDCreateReplace, CRDSkip:
		default:
			problems = append(problems, fmt.Sprintf("unknown CRD policy %q", p))
		}
	}
	switch r.Drift.Mode {
	case DriftDisabled, DriftWarn, DriftCorrect:
	default:
		problems = append(problems, fmt.Sprintf("unknown drift mode %q", r.Drift.Mode))
	}
	if _, err := compileDriftIgnores(r.Drift.Ignore); err != nil {
		problems = append(problems, err.Error())
	}
	switch r.Upgrade.Remediation {
	case "", RemediateRollback, RemediateUninstall:
	default:
		problems = append(problems, fmt.Sprintf("unknown upgrade remediation strategy %q: want %q or %q", r.Upgrade.Remediation, RemediateRollback, RemediateUninstall))
	}
	if r.Install.Retries < 0 || r.Upgrade.Retries < 0 {
		problems = append(problems, "retries must not be negative")
	}
	for i, f := range r.Chart.ValuesFiles {
		if f == "" {
			problems = append(problems, fmt.Sprintf("chart: valuesFiles[%d] is empty", i))
		}
	}
	for i, p := range r.PostRenderers {
		for j, patch := range p.Patches {
			if strings.TrimSpace(patch.Patch) == "" {
				problems = append(problems, fmt.Sprintf("postRenderers[%d]: patches[%d] is empty", i, j))
			}
		}
		for j, img := range p.Images {
			if img.Name == "" {
				problems = append(problems, fmt.Sprintf("postRenderers[%d]: images[%d]: name is empty", i, j))
			}
		}
	}
	for i, v := range r.ValuesFrom {
		if v.Name == "" {
			problems = append(problems, fmt.Sprintf("valuesFrom[%d]: name is empty", i))
		}
	}
	if len(problems) > 0 {
		return &SpecError{Release: r.Key(), Problems: problems}
	}
	return nil
}

func (r *Release) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

func (r *Release) maxHistory() int {
	switch {
	case r.MaxHistory == 0:
		return DefaultMaxHistory
	case r.MaxHistory < 0:
		return 0 // Helm: unlimited
	default:
		return r.MaxHistory
	}
}

// crdPolicy is the CRD policy of an install or an upgrade.
func (r *Release) crdPolicy(install bool) CRDPolicy {
	switch {
	case install && r.Install.CRDs != "":
		return r.Install.CRDs
	case !install && r.Upgrade.CRDs != "":
		return r.Upgrade.CRDs
	case r.CRDs != "":
		return r.CRDs
	default:
		return CRDCreate
	}
}
