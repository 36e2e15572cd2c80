// Package driver is the seam between package helmrelease and the Helm
// library: helmrelease decides what to do with a release (install, upgrade,
// roll back, uninstall, leave alone) and a [Driver] does it. Only the
// implementation in package helmv3 imports Helm, so moving to another Helm
// major version means writing one more implementation of this small
// interface, not touching the lifecycle logic.
//
// The types here are plain values: a [Chart] loaded from disk, a [Release]
// record as stored by Helm, and option structs for the actions.
package driver

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status is the status of a release revision, with Helm's spelling.
type Status string

// Revision statuses, as Helm stores them.
const (
	StatusUnknown         Status = "unknown"
	StatusDeployed        Status = "deployed"
	StatusUninstalled     Status = "uninstalled"
	StatusSuperseded      Status = "superseded"
	StatusFailed          Status = "failed"
	StatusUninstalling    Status = "uninstalling"
	StatusPendingInstall  Status = "pending-install"
	StatusPendingUpgrade  Status = "pending-upgrade"
	StatusPendingRollback Status = "pending-rollback"
)

// IsPending reports whether s is an in-progress status: a revision left in
// it by a process that stopped holds the release's lock.
func (s Status) IsPending() bool {
	return s == StatusPendingInstall || s == StatusPendingUpgrade || s == StatusPendingRollback
}

// Chart is a chart loaded from a directory or an archive on disk.
type Chart struct {
	// Path is where the chart was loaded from; actions load it again from
	// there, so that each gets a fresh copy.
	Path       string
	Name       string
	Version    string
	AppVersion string
	// Digest is "sha256:<hex>" over the chart's content as loaded
	// (metadata, values, schema, templates, files, subcharts), the same for
	// a chart directory and its packaged archive.
	Digest string
	// HasCRDs reports whether the chart (or a subchart) has a crds/ folder.
	HasCRDs bool
	// Values, when not nil, replace the chart's default values (its
	// values.yaml) in every action and render: the merge of the values
	// files of [LoadOptions.ValuesFiles]. Digest covers them.
	Values map[string]any
	// ValuesFiles are the values files merged into Values, in order (the
	// missing ones that were ignored left out).
	ValuesFiles []string
}

// LoadOptions configure [Driver.LoadChart].
type LoadOptions struct {
	// ValuesFiles are files of the chart, by their path in it
	// ("values.yaml", "values-prod.yaml"), merged in order (later wins)
	// into the values that replace the chart's default values, as Flux's
	// source-controller does for a HelmChart's valuesFiles. values.yaml
	// counts only if listed.
	ValuesFiles []string
	// IgnoreMissingValuesFiles skips listed files the chart does not
	// have, instead of failing with a [*ValuesFileError].
	IgnoreMissingValuesFiles bool
}

// ValuesFileError reports a values file of [LoadOptions.ValuesFiles] that
// the chart does not have (Missing), or that is not a YAML map.
type ValuesFileError struct {
	File    string
	Missing bool
	Err     error
}

func (e *ValuesFileError) Error() string {
	if e.Missing {
		return fmt.Sprintf("values file %q: not in the chart", e.File)
	}
	return fmt.Sprintf("values file %q: %v", e.File, e.Err)
}

// Unwrap returns the underlying error.
func (e *ValuesFileError) Unwrap() error { return e.Err }

// PostRenderFunc rewrites the manifests Helm rendered (a YAML stream of
// the templates' objects, hooks excluded, as Helm's post-renderers get
// them) and returns the stream to apply.
type PostRenderFunc func(manifests []byte) ([]byte, error)

// RenderOptions configure [Driver.Render].
type RenderOptions struct {
	// PostRender, if set, rewrites the rendered manifests as in an
	// install or upgrade ([ActionOptions.PostRender]).
	PostRender PostRenderFunc
}

// Release is one revision of a release as stored by Helm.
type Release struct {
	Name         string
	Namespace    string
	Revision     int
	Status       Status
	Description  string
	ChartName    string
	ChartVersion string
	AppVersion   string
	// Labels are the release's custom labels (stored with the record).
	Labels   map[string]string
	Updated  time.Time
	Manifest string
	// Values are the values the caller supplied for this revision.
	Values map[string]any
	// Notes are the rendered notes of the chart (the parent chart's
	// NOTES.txt only, as Helm keeps them).
	Notes string
}

// ActionOptions configure an install or upgrade.
type ActionOptions struct {
	Timeout      time.Duration
	Wait         bool
	WaitForJobs  bool
	DisableHooks bool
	// SkipCRDs keeps Helm from installing the chart's crds/ folder (the
	// caller handles CRDs with [Driver.ApplyCRDs], or skips them).
	SkipCRDs bool
	// Replace lets an install reuse the name of an uninstalled release whose
	// history was kept.
	Replace bool
	// Force makes an upgrade replace objects it cannot patch.
	Force bool
	// MaxHistory bounds the stored revisions (0: unlimited).
	MaxHistory int
	// Labels are stored with the release record. On upgrade they are merged
	// into the previous record's labels; a value "null" removes a label.
	Labels map[string]string
	// PostRender, if set, rewrites the rendered manifests before
	// CommonLabels are added.
	PostRender PostRenderFunc
	// CommonLabels are added to every rendered object.
	CommonLabels map[string]string
	Description  string
}

// RollbackOptions configure a rollback.
type RollbackOptions struct {
	Timeout      time.Duration
	Wait         bool
	WaitForJobs  bool
	DisableHooks bool
	Force        bool
	MaxHistory   int
}

// UninstallOptions configure an uninstall.
type UninstallOptions struct {
	Timeout      time.Duration
	Wait         bool
	DisableHooks bool
	// KeepHistory marks the release uninstalled but keeps its records.
	KeepHistory bool
	Description string
}

// Mark rewrites fields of a stored revision. Empty fields are left as they
// are; Labels are merged in (a value "" removes a label).
type Mark struct {
	Status      Status
	Description string
	Labels      map[string]string
}

// Driver runs Helm actions for the releases of one namespace (the
// namespace the records are stored in and the release's target namespace).
type Driver interface {
	// LoadChart loads and validates a chart directory or archive.
	LoadChart(path string, opts LoadOptions) (*Chart, error)
	// Render renders ch with values without contacting the cluster, to
	// report template, schema and post-render errors before any action
	// starts, and returns every object the chart would create: templates
	// (post-rendered), hooks and the CRDs of its crds/ folders.
	Render(ch *Chart, name string, values map[string]any, opts RenderOptions) ([]*unstructured.Unstructured, error)
	// History returns the release's stored revisions, newest first, and an
	// empty slice when there is none.
	History(ctx context.Context, name string) ([]*Release, error)
	// Install installs ch as release name.
	Install(ctx context.Context, name string, ch *Chart, values map[string]any, opts ActionOptions) (*Release, error)
	// Upgrade upgrades release name to ch.
	Upgrade(ctx context.Context, name string, ch *Chart, values map[string]any, opts ActionOptions) (*Release, error)
	// Rollback rolls release name back to revision.
	Rollback(ctx context.Context, name string, revision int, opts RollbackOptions) error
	// Uninstall uninstalls release name.
	Uninstall(ctx context.Context, name string, opts UninstallOptions) error
	// Test runs the release's test hooks.
	Test(ctx context.Context, name string, timeout time.Duration) error
	// Mark rewrites a stored revision (to unlock a stuck release, or to
	// record that an attempt failed).
	Mark(ctx context.Context, name string, revision int, m Mark) error
	// EnsureNamespace creates the driver's namespace if it does not exist.
	EnsureNamespace(ctx context.Context) error
	// ApplyCRDs creates the CRDs of ch's crds/ folders that do not exist,
	// replaces those that do when replace is set, and waits until they are
	// established.
	ApplyCRDs(ctx context.Context, ch *Chart, replace bool, timeout time.Duration) error
}
