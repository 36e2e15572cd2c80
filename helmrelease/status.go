package helmrelease

import "time"

// Action is a Helm action taken on a release.
type Action string

// Actions.
const (
	ActionNone      Action = ""
	ActionInstall   Action = "install"
	ActionUpgrade   Action = "upgrade"
	ActionTest      Action = "test"
	ActionRollback  Action = "rollback"
	ActionUninstall Action = "uninstall"
	ActionUnlock    Action = "unlock"
	ActionCorrect   Action = "correct-drift"
)

// Reason says why a release is or is not ready.
type Reason string

// Reasons.
const (
	// Ready reasons.
	ReasonInstalled      Reason = "Installed"
	ReasonUpgraded       Reason = "Upgraded"
	ReasonUpToDate       Reason = "UpToDate"
	ReasonDriftCorrected Reason = "DriftCorrected"

	// Not-ready reasons.
	ReasonInvalidSpec        Reason = "InvalidSpec"
	ReasonValuesFailed       Reason = "ValuesFailed"
	ReasonChartFailed        Reason = "ChartFailed"
	ReasonInvalidChart       Reason = "InvalidChart"
	ReasonInstallFailed      Reason = "InstallFailed"
	ReasonUpgradeFailed      Reason = "UpgradeFailed"
	ReasonTestFailed         Reason = "TestFailed"
	ReasonRetriesExhausted   Reason = "RetriesExhausted"
	ReasonDependencyNotReady Reason = "DependencyNotReady"
	ReasonClusterError       Reason = "ClusterError"
	// ReasonPolicyViolation: [Options.Admit] refused the rendered objects.
	ReasonPolicyViolation Reason = "PolicyViolation"
	// ReasonPostRenderFailed: a post renderer does not apply to the
	// rendered manifests ([*PostRenderError]).
	ReasonPostRenderFailed Reason = "PostRenderFailed"
	ReasonUninstalled      Reason = "Uninstalled"
	ReasonNotInstalled     Reason = "NotInstalled"
)

// Status is the observed state of a release after a call.
type Status struct {
	// Name and Namespace identify the release.
	Name, Namespace string
	// Ready is true when the desired chart and values are deployed.
	Ready bool
	// Reason says why (see the Reason constants) and Message says it in a
	// sentence.
	Reason  Reason
	Message string
	// Actions lists what this call did, in order (install, rollback,
	// upgrade, ...). Empty for a no-op.
	Actions []Action

	// Chart is the chart the call resolved (name, version, digest), when
	// it got that far.
	Chart ChartInfo
	// Revision, ChartVersion and AppVersion describe the current revision
	// in the cluster (0 and empty when there is none).
	Revision     int
	ChartVersion string
	AppVersion   string
	// ReleaseStatus is Helm's status of the current revision ("deployed",
	// "failed", "uninstalled", ...).
	ReleaseStatus string
	// Failures is the number of failed attempts for the desired chart and
	// values (reset by a change of either).
	Failures int
	// ValuesDigest is the digest of the merged values.
	ValuesDigest string
	// History summarizes the kept revisions, newest first.
	History []HistoryEntry
	// Drift lists the objects found to differ from the release manifest
	// (when drift detection is on).
	Drift []DriftedObject
}

// ChartInfo describes a resolved chart.
type ChartInfo struct {
	Name    string
	Version string
	// Digest is "sha256:<hex>" over the chart's content (the same for a
	// chart directory and its packaged archive).
	Digest string
	// Source is the repository URL or path it came from.
	Source string
}

// HistoryEntry summarizes one revision.
type HistoryEntry struct {
	Revision     int
	Status       string
	ChartVersion string
	AppVersion   string
	Updated      time.Time
	Description  string
	// Failed is true when gitopskit recorded the revision as a failed
	// attempt (it may since have been rolled back or uninstalled).
	Failed bool
}

// DriftedObject is a live object that differs from the release manifest.
type DriftedObject struct {
	APIVersion, Kind, Namespace, Name string
	// Missing is true when the object does not exist.
	Missing bool
	// Fields lists the differing field paths ("spec.replicas").
	Fields []string
	// Corrected is true when it was applied again.
	Corrected bool
}

// String returns "Kind/namespace/name" (or "Kind/name").
func (d DriftedObject) String() string {
	if d.Namespace == "" {
		return d.Kind + "/" + d.Name
	}
	return d.Kind + "/" + d.Namespace + "/" + d.Name
}
