package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/source"
)

// A HelmRelease becomes a [Unit] with [Unit.Helm] set:
//
//   - spec.chart.spec: chart, version (Flux's default "*" is the newest
//     stable version) and sourceRef (kind HelmRepository or GitRepository,
//     name, namespace) and interval. From a HelmRepository (HTTP, or type
//     oci), the chart is [helmrelease.ChartRef] Name in the repository's
//     RepoURL; from a GitRepository, spec.chart.spec.chart is the chart's
//     path in the repository ([Unit.Source] and Chart.Path).
//   - spec.chart.spec.valuesFiles and ignoreMissingValuesFiles, and those
//     of a HelmChart: [helmrelease.ChartRef] ValuesFiles, files of the
//     chart merged in order into the values that replace its values.yaml,
//     as Flux's source-controller does. For a chart from a repository they
//     are paths in the chart; for a chart from a GitRepository Flux names
//     them by their path in the repository, and they must be in the
//     chart's directory (helmrelease reads them from the chart).
//   - spec.chartRef: kind OCIRepository (url oci://registry/path/chart,
//     ref.semver or ref.tag, default tag "latest"), HelmChart (chart,
//     version, valuesFiles, sourceRef as spec.chart.spec) or
//     ExternalArtifact (of an ArtifactGenerator that copies one
//     GitRepository directory, the chart, to the artifact's root, as for a
//     Kustomization's sourceRef: [Unit.Source] and Chart.Path), name and
//     namespace.
//   - Repository credentials: the secretRef of a HelmRepository (keys
//     username and password) or OCIRepository (those keys, or a
//     .dockerconfigjson holding the registry's host); insecure on an OCI
//     repository talks plain HTTP to the registry.
//   - spec.values: [helmrelease.Release] Values. spec.valuesFrom (kind
//     ConfigMap or Secret, name, valuesKey, targetPath, optional, in the
//     HelmRelease's namespace): [Unit.ValuesFrom], read each time the unit
//     runs, as Flux reads them at each reconcile, so that a ConfigMap an
//     earlier unit creates (one the HelmRelease dependsOn) counts in the
//     same run. Both merge over the chart's values (or its values files).
//   - spec.releaseName: the release name; default Flux's
//     "[targetNamespace-]name", shortened as Flux does when longer than 53
//     characters (its first 40, "-", 12 hex digits of its SHA-256).
//   - spec.targetNamespace: the release's namespace; default the
//     HelmRelease's. spec.storageNamespace may only name the release's
//     namespace: helmrelease keeps a release's records in its namespace
//     (Flux's default is the HelmRelease's namespace, so a release with a
//     targetNamespace is stored elsewhere than Flux would).
//   - spec.interval (required), spec.timeout (default 5m, as Flux; also
//     the unit's), spec.suspend, spec.dependsOn (HelmReleases),
//     spec.serviceAccountName: the unit's.
//   - spec.install: remediation.retries and remediation.remediateLastFailure
//     (as in Flux: a failed install is uninstalled between retries, and
//     the last one too only when remediateLastFailure, whose default is
//     false: [helmrelease.InstallPolicy] KeepLastFailed), strategy
//     (RemediateOnFailure, the default, or RetryOnFailure: the failure is
//     kept and the unit retries after strategy.retryInterval, default 5m,
//     by an upgrade; [helmrelease.InstallPolicy] RetryOnFailure and
//     [Unit.RetryInterval]), createNamespace,
//     crds (or the deprecated skipCRDs), disableWait, disableWaitForJobs,
//     disableHooks, timeout.
//   - spec.upgrade: remediation.retries, remediation.remediateLastFailure
//     (Flux's default: remediate the last failure when retries > 0; not
//     remediating it is [helmrelease.UpgradePolicy] KeepLastFailed),
//     remediation.strategy ("rollback", the default, or "uninstall": the
//     failed upgrade is uninstalled and the release installed again,
//     counted against the install retries), strategy (as install's:
//     RetryOnFailure keeps a failed upgrade, neither rolled back nor
//     uninstalled, and retries it after its retryInterval; with both, the
//     unit retries after the shorter), force, crds, disableWait,
//     disableWaitForJobs, disableHooks, timeout. helmrelease has one
//     setting for install and upgrade where Flux has two (wait, jobs,
//     hooks, timeout): when both are given they must agree. The CRD
//     policies are one per action ([helmrelease.InstallPolicy] and
//     [helmrelease.UpgradePolicy] CRDs), the upgrade's Skip by default as
//     in Flux.
//   - spec.postRenderers[].kustomize: patches (strategic merge or JSON
//     6902, with an optional target) and images, applied in order to the
//     manifests Helm renders ([helmrelease.Release] PostRenderers, run with
//     [github.com/gitopskit/gitopskit/build.Transform]), before spec.commonMetadata.labels, as Flux does.
//     spec.postRenderStrategy may only be "nohooks": as in Helm 3, hooks
//     are not post-rendered.
//   - spec.maxHistory (default 5 as in Flux; 0 is unlimited as in Flux),
//     spec.test.enable and .ignoreFailures, spec.driftDetection.mode
//     (enabled: correct, warn: report) and .ignore (JSON pointers, with a
//     kustomize target selector: neither reported nor corrected;
//     [helmrelease.DriftPolicy] Ignore), spec.commonMetadata.labels
//     ([helmrelease.Release] Labels).
//
// Not supported, refused with an [ErrUnsupportedField] error naming the
// field (a field left empty, or set to the value gitopskit's behaviour
// already has, is accepted): spec.kubeConfig, postRenderStrategy other
// than nohooks, the v2beta postRenderers' patchesStrategicMerge and
// patchesJson6902, waitStrategy, healthCheckExprs,
// commonMetadata.annotations, rollback, uninstall, test.timeout and
// filters, replace,
// remediation.ignoreTestFailures, serverSideApply,
// disableOpenAPIValidation, disableSchemaValidation, disableTakeOwnership,
// preserveValues, cleanupOnFail, chartNameChangeStrategy,
// valuesFrom[].literal, the v2beta1 chart valuesFile, a chart's verify,
// chart metadata, reconcileStrategy Revision, a Bucket source, values
// files of a Git chart outside its directory, and OCIRepository
// ref.digest, semverFilter, a layerSelector of another media type than a
// Helm chart's, verify, certSecretRef,
// proxySecretRef, serviceAccountName, ignore.

// fluxChart is where a Helm unit's chart comes from.
type fluxChart struct {
	ref helmrelease.ChartRef
	// git is the GitRepository holding the chart (ref.Path is in it, or
	// in the tree compose makes of it).
	git     *fluxDoc
	compose []source.Copy
	// interval is the smallest interval of the objects on the way.
	interval time.Duration
}

// valuesFiles sets the chart's values files. Flux names them by their
// path in the chart for a chart from a repository, and by their path in
// the repository for a chart from a GitRepository; helmrelease reads them
// from the chart, so the latter must be in the chart's directory.
func (c *fluxChart) valuesFiles(d *fluxDoc, field string, files []string, ignoreMissing bool) error {
	c.ref.IgnoreMissingValuesFiles = ignoreMissing
	c.ref.ValuesFiles = nil
	for i, f := range files {
		p := path.Clean(strings.TrimPrefix(f, "/"))
		if f == "" || p == "." {
			return d.failf(fmt.Sprintf("%s[%d]", field, i), "empty path")
		}
		if p == ".." || strings.HasPrefix(p, "../") {
			return d.failf(fmt.Sprintf("%s[%d]", field, i), "%q leaves the chart", f)
		}
		if c.git != nil {
			rel, ok := strings.CutPrefix(p, c.ref.Path+"/")
			if c.ref.Path == "." {
				rel, ok = p, true
			}
			if !ok {
				return d.fail(fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("%w (%q is outside the chart's directory %q: gitopskit reads values files from the chart)", ErrUnsupportedField, f, c.ref.Path))
			}
			p = rel
		}
		c.ref.ValuesFiles = append(c.ref.ValuesFiles, p)
	}
	return nil
}

func (c *fluxChart) every(v metav1.Duration) {
	if v.Duration > 0 && (c.interval == 0 || v.Duration < c.interval) {
		c.interval = v.Duration
	}
}

// helmUnit converts a HelmRelease.
func (b *fluxBatch) helmUnit(ctx context.Context, d *fluxDoc) (Unit, error) {
	spec := d.spec.(*helmv2.HelmReleaseSpec)
	hr := helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.namespace}, Spec: *spec}
	interval, err := required(d, "spec.interval", spec.Interval)
	if err != nil {
		return Unit{}, err
	}
	if ns := spec.TargetNamespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return Unit{}, d.failf("spec.targetNamespace", "%q: %s", ns, strings.Join(msgs, "; "))
		}
	}
	rel := &helmrelease.Release{Name: shortenReleaseName(hr.GetReleaseName()), Namespace: hr.GetReleaseNamespace()}
	if s := spec.StorageNamespace; s != "" && s != rel.Namespace {
		return Unit{}, d.fail("spec.storageNamespace", fmt.Errorf("%w (%q: gitopskit keeps a release's records in the release's namespace %q)", ErrUnsupportedField, s, rel.Namespace))
	}
	u := Unit{Name: d.unitName, Suspend: spec.Suspend, Timeout: hr.GetTimeout().Duration,
		ServiceAccountName: b.serviceAccount(spec.ServiceAccountName), Helm: rel, FluxObject: d.key().String()}
	if u.ServiceAccountName != "" {
		u.ServiceAccountNamespace = d.namespace
	}
	rel.Timeout = u.Timeout

	var chart fluxChart
	switch {
	case spec.Chart != nil && spec.ChartRef != nil:
		return Unit{}, d.failf("spec.chartRef", "set spec.chart or spec.chartRef, not both")
	case spec.ChartRef != nil:
		r := spec.ChartRef
		if r.APIVersion != "" && !strings.HasPrefix(r.APIVersion, fluxSourceGroup+"/") {
			return Unit{}, d.failf("spec.chartRef.apiVersion", "%q: want %s", r.APIVersion, FluxSourceAPIVersion)
		}
		switch r.Kind {
		case "OCIRepository", "HelmChart":
			t, err := b.ref(d, "spec.chartRef", r.Kind, r.Namespace, r.Name)
			if err != nil {
				return Unit{}, err
			}
			if chart, err = b.chartSource(ctx, t); err != nil {
				return Unit{}, err
			}
		case "ExternalArtifact":
			src, dir, compose, err := b.externalArtifact(d, "spec.chartRef", r.Namespace, r.Name)
			if err != nil {
				return Unit{}, err
			}
			if dir == "" {
				dir = "."
			}
			chart = fluxChart{ref: helmrelease.ChartRef{Path: dir}, git: src, compose: compose}
			chart.every(src.spec.(*sourcev1.GitRepositorySpec).Interval)
		default:
			return Unit{}, d.failf("spec.chartRef.kind", "%q is not supported: want OCIRepository, HelmChart or ExternalArtifact", r.Kind)
		}
	case spec.Chart != nil:
		c := spec.Chart.Spec
		r := c.SourceRef
		if r.APIVersion != "" && !strings.HasPrefix(r.APIVersion, fluxSourceGroup+"/") {
			return Unit{}, d.failf("spec.chart.spec.sourceRef.apiVersion", "%q: want %s", r.APIVersion, FluxSourceAPIVersion)
		}
		if chart, err = b.chartFrom(ctx, d, "spec.chart.spec", c.Chart, c.Version, r.Kind, r.Namespace, r.Name); err != nil {
			return Unit{}, err
		}
		if err := chart.valuesFiles(d, "spec.chart.spec.valuesFiles", c.ValuesFiles, c.IgnoreMissingValuesFiles); err != nil {
			return Unit{}, err
		}
		if c.Interval != nil {
			chart.every(*c.Interval)
		}
	default:
		return Unit{}, d.failf("spec.chart", "required: spec.chart or spec.chartRef")
	}
	rel.Chart = chart.ref
	if chart.git != nil {
		u.Source, u.Compose = chart.git.unitName, chart.compose
	}
	u.Interval = interval
	if chart.interval > 0 {
		u.Interval = min(interval, chart.interval)
	}

	if spec.Values != nil && len(spec.Values.Raw) > 0 {
		if err := json.Unmarshal(spec.Values.Raw, &rel.Values); err != nil {
			return Unit{}, d.failf("spec.values", "want an object: %v", err)
		}
	}
	for i, v := range spec.ValuesFrom {
		field := fmt.Sprintf("spec.valuesFrom[%d]", i)
		if v.Kind != "ConfigMap" && v.Kind != "Secret" {
			return Unit{}, d.failf(field+".kind", "%q: want ConfigMap or Secret", v.Kind)
		}
		if v.Name == "" {
			return Unit{}, d.failf(field+".name", "required")
		}
		u.ValuesFrom = append(u.ValuesFrom, ValuesRef{Kind: v.Kind, Namespace: d.namespace, Name: v.Name,
			ValuesKey: v.ValuesKey, TargetPath: v.TargetPath, Optional: v.Optional})
	}

	retry, err := fluxHelmActions(d, &hr, rel)
	if err != nil {
		return Unit{}, err
	}
	if retry > 0 {
		u.RetryInterval = retry
	}
	u.Wait = !rel.DisableWait
	if m := spec.CommonMetadata; m != nil && len(m.Labels) > 0 {
		rel.Labels = m.Labels
	}
	for i, pr := range spec.PostRenderers {
		if pr.Kustomize == nil {
			continue
		}
		field := fmt.Sprintf("spec.postRenderers[%d].kustomize.", i)
		patches, images, err := fluxPatchesImages(d, field, pr.Kustomize.Patches, pr.Kustomize.Images)
		if err != nil {
			return Unit{}, err
		}
		if len(patches) > 0 || len(images) > 0 {
			rel.PostRenderers = append(rel.PostRenderers, helmrelease.PostRenderer{Patches: patches, Images: images})
		}
	}
	for i, dep := range spec.DependsOn {
		name, err := b.dependency(d, fmt.Sprintf("spec.dependsOn[%d]", i), "HelmRelease", dep.Namespace, dep.Name)
		if err != nil {
			return Unit{}, err
		}
		u.DependsOn = append(u.DependsOn, name)
	}
	if err := rel.Validate(); err != nil {
		return Unit{}, d.fail("spec", err)
	}
	return u, nil
}

// helmChartLayer is the media type of a Helm chart's layer in an OCI
// artifact.
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// fluxHelmActions converts the install, upgrade, test, history and drift
// options, and returns the unit's retry interval their strategies set (0
// for none).
func fluxHelmActions(d *fluxDoc, hr *helmv2.HelmRelease, rel *helmrelease.Release) (retry time.Duration, err error) {
	if err := fluxHelmActionPolicies(d, hr, rel); err != nil {
		return 0, err
	}
	return fluxHelmRetry(d, hr, rel)
}

// fluxHelmRetry converts install.strategy and upgrade.strategy: with
// RetryOnFailure, a failure of that action is kept and retried by the
// unit's next attempt, after the strategy's retryInterval (default 5m as
// in Flux; the shorter of the two when both set one). It returns that
// interval, or 0.
func fluxHelmRetry(d *fluxDoc, hr *helmv2.HelmRelease, rel *helmrelease.Release) (time.Duration, error) {
	var retry time.Duration
	strategy := func(field, name string, interval *metav1.Duration) (bool, error) {
		switch helmv2.ActionStrategyName(name) {
		case helmv2.ActionStrategyRemediateOnFailure:
			if interval != nil {
				return false, d.failf(field+".retryInterval", "may only be set with the RetryOnFailure strategy")
			}
			return false, nil
		case helmv2.ActionStrategyRetryOnFailure:
			iv := 5 * time.Minute
			if interval != nil {
				iv = interval.Duration
			}
			if iv <= 0 {
				return false, d.failf(field+".retryInterval", "%s: want a positive duration", iv)
			}
			if retry == 0 || iv < retry {
				retry = iv
			}
			return true, nil
		}
		return false, d.failf(field+".name", "%q: want RemediateOnFailure or RetryOnFailure", name)
	}
	var err error
	if s := hr.Spec.Install; s != nil && s.Strategy != nil {
		if rel.Install.RetryOnFailure, err = strategy("spec.install.strategy", s.Strategy.Name, s.Strategy.RetryInterval); err != nil {
			return 0, err
		}
	}
	if s := hr.Spec.Upgrade; s != nil && s.Strategy != nil {
		if rel.Upgrade.RetryOnFailure, err = strategy("spec.upgrade.strategy", s.Strategy.Name, s.Strategy.RetryInterval); err != nil {
			return 0, err
		}
	}
	return retry, nil
}

// fluxHelmActionPolicies converts the remediation and the other settings
// of install and upgrade.
func fluxHelmActionPolicies(d *fluxDoc, hr *helmv2.HelmRelease, rel *helmrelease.Release) error {
	spec := &hr.Spec
	inst, up := hr.GetInstall(), hr.GetUpgrade()
	unsupported := func(field, format string, args ...any) error {
		return d.fail(field, fmt.Errorf("%w (%s)", ErrUnsupportedField, fmt.Sprintf(format, args...)))
	}
	if t := inst.Timeout; t != nil && t.Duration != rel.Timeout {
		return unsupported("spec.install.timeout", "%s differs from the release's timeout %s; gitopskit has one timeout for every Helm action", t.Duration, rel.Timeout)
	}
	if t := up.Timeout; t != nil && t.Duration != rel.Timeout {
		return unsupported("spec.upgrade.timeout", "%s differs from the release's timeout %s; gitopskit has one timeout for every Helm action", t.Duration, rel.Timeout)
	}
	ir, ur := inst.GetRemediation(), up.GetRemediation()
	if ir.GetRetries() < 0 {
		return unsupported("spec.install.remediation.retries", "unlimited retries")
	}
	if ur.GetRetries() < 0 {
		return unsupported("spec.upgrade.remediation.retries", "unlimited retries")
	}
	rel.Install = helmrelease.InstallPolicy{Retries: ir.GetRetries(), KeepLastFailed: !ir.MustRemediateLastFailure()}
	rel.Upgrade = helmrelease.UpgradePolicy{Retries: ur.GetRetries(), KeepLastFailed: !ur.MustRemediateLastFailure(), Force: up.Force}
	switch s := ur.GetStrategy(); s {
	case helmv2.RollbackRemediationStrategy:
		rel.Upgrade.Remediation = helmrelease.RemediateRollback
	case helmv2.UninstallRemediationStrategy:
		rel.Upgrade.Remediation = helmrelease.RemediateUninstall
	default:
		return d.failf("spec.upgrade.remediation.strategy", "%q: want rollback or uninstall", s)
	}
	rel.CreateNamespace = inst.CreateNamespace

	// Flux has a setting for install and one for upgrade; helmrelease one.
	same := func(field string, i, u bool) error {
		if spec.Install != nil && spec.Upgrade != nil && i != u {
			return unsupported("spec.upgrade."+field, "differs from spec.install.%s; gitopskit has one setting for install and upgrade", field)
		}
		return nil
	}
	if err := same("disableWait", inst.DisableWait, up.DisableWait); err != nil {
		return err
	}
	if err := same("disableWaitForJobs", inst.DisableWaitForJobs, up.DisableWaitForJobs); err != nil {
		return err
	}
	if err := same("disableHooks", inst.DisableHooks, up.DisableHooks); err != nil {
		return err
	}
	rel.DisableWait = inst.DisableWait || up.DisableWait
	rel.WaitForJobs = !(inst.DisableWaitForJobs || up.DisableWaitForJobs)
	rel.DisableHooks = inst.DisableHooks || up.DisableHooks

	crds := helmrelease.CRDCreate
	switch {
	case inst.SkipCRDs:
		crds = helmrelease.CRDSkip
	case inst.CRDs != "":
		crds = helmrelease.CRDPolicy(inst.CRDs)
	}
	switch crds {
	case helmrelease.CRDCreate, helmrelease.CRDCreateReplace, helmrelease.CRDSkip:
	default:
		return d.failf("spec.install.crds", "%q: want Skip, Create or CreateReplace", inst.CRDs)
	}
	// Flux's upgrades skip the chart's CRDs unless told otherwise.
	upCRDs := helmrelease.CRDSkip
	if up.CRDs != "" {
		upCRDs = helmrelease.CRDPolicy(up.CRDs)
	}
	switch upCRDs {
	case helmrelease.CRDCreate, helmrelease.CRDCreateReplace, helmrelease.CRDSkip:
	default:
		return d.failf("spec.upgrade.crds", "%q: want Skip, Create or CreateReplace", up.CRDs)
	}
	rel.CRDs, rel.Install.CRDs, rel.Upgrade.CRDs = crds, crds, upCRDs

	switch {
	case spec.MaxHistory == nil:
		rel.MaxHistory = hr.GetMaxHistory()
	case *spec.MaxHistory == 0:
		rel.MaxHistory = -1 // unlimited, as in Flux
	case *spec.MaxHistory < 0:
		return d.failf("spec.maxHistory", "%d: must not be negative", *spec.MaxHistory)
	default:
		rel.MaxHistory = *spec.MaxHistory
	}
	if t := spec.Test; t != nil {
		rel.Test = helmrelease.TestPolicy{Enable: t.Enable, IgnoreFailures: t.IgnoreFailures}
	}
	if dd := spec.DriftDetection; dd != nil {
		switch dd.Mode {
		case "", helmv2.DriftDetectionDisabled:
		case helmv2.DriftDetectionWarn:
			rel.Drift.Mode = helmrelease.DriftWarn
		case helmv2.DriftDetectionEnabled:
			rel.Drift.Mode = helmrelease.DriftCorrect
		default:
			return d.failf("spec.driftDetection.mode", "%q: want enabled, warn or disabled", dd.Mode)
		}
		for i, ig := range dd.Ignore {
			rule := helmrelease.DriftIgnore{Paths: ig.Paths}
			if t := ig.Target; t != nil {
				rule.Target = &build.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Namespace: t.Namespace,
					Name: t.Name, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			}
			if err := rule.Validate(); err != nil {
				return d.failf(fmt.Sprintf("spec.driftDetection.ignore[%d]", i), "%v", err)
			}
			rel.Drift.Ignore = append(rel.Drift.Ignore, rule)
		}
	}
	return nil
}

// shortenReleaseName shortens a release name longer than Helm allows as
// Flux's helm-controller does.
func shortenReleaseName(name string) string {
	if len(name) <= 53 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:40] + "-" + hex.EncodeToString(sum[:])[:12]
}

// chartFrom resolves a chart template (of a HelmRelease's spec.chart.spec,
// or a HelmChart's spec): a chart in a HelmRepository or a GitRepository.
func (b *fluxBatch) chartFrom(ctx context.Context, d *fluxDoc, field, chart, version, kind, namespace, name string) (fluxChart, error) {
	if chart == "" {
		return fluxChart{}, d.failf(field+".chart", "required")
	}
	switch kind {
	case "HelmRepository":
		t, err := b.ref(d, field+".sourceRef", kind, namespace, name)
		if err != nil {
			return fluxChart{}, err
		}
		c, err := b.chartSource(ctx, t)
		if err != nil {
			return fluxChart{}, err
		}
		c.ref.Name = chart
		if version != "*" {
			c.ref.Version = version
		}
		return c, nil
	case "GitRepository":
		t, err := b.ref(d, field+".sourceRef", kind, namespace, name)
		if err != nil {
			return fluxChart{}, err
		}
		p := path.Clean(strings.TrimPrefix(chart, "/"))
		if p == ".." || strings.HasPrefix(p, "../") {
			return fluxChart{}, d.failf(field+".chart", "%q leaves the repository", chart)
		}
		c := fluxChart{ref: helmrelease.ChartRef{Path: p}, git: t}
		c.every(t.spec.(*sourcev1.GitRepositorySpec).Interval)
		return c, nil
	case "":
		return fluxChart{}, d.failf(field+".sourceRef.kind", "required: HelmRepository or GitRepository")
	}
	return fluxChart{}, d.failf(field+".sourceRef.kind", "%q is not supported: want HelmRepository or GitRepository", kind)
}

// chartSource converts a HelmRepository (its URL and credentials, without
// a chart name), an OCIRepository or a HelmChart (a chart).
func (b *fluxBatch) chartSource(ctx context.Context, d *fluxDoc) (fluxChart, error) {
	switch spec := d.spec.(type) {
	case *sourcev1.HelmRepositorySpec:
		c := fluxChart{ref: helmrelease.ChartRef{RepoURL: strings.TrimSuffix(spec.URL, "/")}}
		c.every(spec.Interval)
		oci := false
		switch spec.Type {
		case "", "default":
			if !strings.HasPrefix(spec.URL, "http://") && !strings.HasPrefix(spec.URL, "https://") {
				return fluxChart{}, d.failf("spec.url", "%q: want an http:// or https:// URL (or type: oci and an oci:// URL)", spec.URL)
			}
		case "oci":
			oci = true
			if !strings.HasPrefix(spec.URL, "oci://") {
				return fluxChart{}, d.failf("spec.url", "%q: want an oci:// URL", spec.URL)
			}
			c.ref.PlainHTTP = spec.Insecure
		default:
			return fluxChart{}, d.failf("spec.type", "%q: want default or oci", spec.Type)
		}
		if spec.SecretRef != nil {
			data, err := b.l.secret(ctx, d, "spec.secretRef.name", spec.SecretRef.Name)
			if err != nil {
				return fluxChart{}, err
			}
			if oci {
				c.ref.Auth, err = registryAuth(spec.URL, data)
			} else {
				c.ref.Auth, err = helmrelease.BasicAuthFromSecret(data)
			}
			if err != nil {
				return fluxChart{}, d.failf("spec.secretRef.name", "Secret %s: %v", spec.SecretRef.Name, err)
			}
		}
		return c, nil
	case *sourcev1.OCIRepositorySpec:
		u := strings.TrimSuffix(spec.URL, "/")
		i := strings.LastIndexByte(u, '/')
		if !strings.HasPrefix(u, "oci://") || i < len("oci://") || strings.Count(u[len("oci://"):], "/") < 1 {
			return fluxChart{}, d.failf("spec.url", "%q: want oci://registry/path/chart", spec.URL)
		}
		if ls := spec.LayerSelector; ls != nil {
			// The chart's layer is what helmrelease reads: a selector of
			// it (Flux's documented form) changes nothing.
			if ls.MediaType != "" && ls.MediaType != helmChartLayer {
				return fluxChart{}, d.fail("spec.layerSelector.mediaType", fmt.Errorf("%w (%q: an OCIRepository is read as a Helm chart, whose layer is %s)",
					ErrUnsupportedField, ls.MediaType, helmChartLayer))
			}
			if ls.Operation != "" && ls.Operation != sourcev1.OCILayerCopy && ls.Operation != sourcev1.OCILayerExtract {
				return fluxChart{}, d.failf("spec.layerSelector.operation", "%q: want %s or %s", ls.Operation, sourcev1.OCILayerExtract, sourcev1.OCILayerCopy)
			}
		}
		if r := spec.Reference; r != nil && r.Digest != "" {
			return fluxChart{}, d.fail("spec.ref.digest", fmt.Errorf("%w (an OCIRepository read as a Helm chart): pin the chart with spec.ref.tag or spec.ref.semver", ErrUnsupportedField))
		}
		if r := spec.Reference; r != nil && r.SemverFilter != "" {
			return fluxChart{}, d.fail("spec.ref.semverFilter", fmt.Errorf("%w (an OCIRepository read as a Helm chart): narrow spec.ref.semver instead", ErrUnsupportedField))
		}
		c := fluxChart{ref: helmrelease.ChartRef{RepoURL: u[:i], Name: u[i+1:], Version: "latest", PlainHTTP: spec.Insecure}}
		c.every(spec.Interval)
		if r := spec.Reference; r != nil {
			switch {
			case r.SemVer != "":
				c.ref.Version = r.SemVer
			case r.Tag != "":
				c.ref.Version = r.Tag
			}
		}
		if spec.SecretRef != nil {
			data, err := b.l.secret(ctx, d, "spec.secretRef.name", spec.SecretRef.Name)
			if err != nil {
				return fluxChart{}, err
			}
			if c.ref.Auth, err = registryAuth(spec.URL, data); err != nil {
				return fluxChart{}, d.failf("spec.secretRef.name", "Secret %s: %v", spec.SecretRef.Name, err)
			}
		}
		return c, nil
	case *sourcev1.HelmChartSpec:
		r := spec.SourceRef
		if r.APIVersion != "" && !strings.HasPrefix(r.APIVersion, fluxSourceGroup+"/") {
			return fluxChart{}, d.failf("spec.sourceRef.apiVersion", "%q: want %s", r.APIVersion, FluxSourceAPIVersion)
		}
		c, err := b.chartFrom(ctx, d, "spec", spec.Chart, spec.Version, r.Kind, "", r.Name)
		if err != nil {
			return fluxChart{}, err
		}
		if err := c.valuesFiles(d, "spec.valuesFiles", spec.ValuesFiles, spec.IgnoreMissingValuesFiles); err != nil {
			return fluxChart{}, err
		}
		c.every(spec.Interval)
		return c, nil
	}
	return fluxChart{}, d.failf("kind", "%s is not a chart source", d.kind)
}

// registryAuth reads registry credentials from a Secret's data: the keys
// username and password, or a .dockerconfigjson with an entry for the
// registry of rawURL.
func registryAuth(rawURL string, data map[string][]byte) (*helmrelease.BasicAuth, error) {
	if _, ok := data["username"]; ok {
		return helmrelease.BasicAuthFromSecret(data)
	}
	cfg, ok := data[".dockerconfigjson"]
	if !ok {
		return nil, errors.New("want the keys username and password, or .dockerconfigjson")
	}
	var dc struct {
		Auths map[string]struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Auth     string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(cfg, &dc); err != nil {
		return nil, fmt.Errorf(".dockerconfigjson: %v", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	for host, a := range dc.Auths {
		if h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://"); strings.TrimSuffix(h, "/") != u.Host {
			continue
		}
		if a.Username == "" && a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf(".dockerconfigjson: auth of %s: %v", host, err)
			}
			a.Username, a.Password, _ = strings.Cut(string(raw), ":")
		}
		return &helmrelease.BasicAuth{Username: a.Username, Password: a.Password}, nil
	}
	return nil, fmt.Errorf(".dockerconfigjson has no credentials for %s", u.Host)
}
