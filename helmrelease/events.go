package helmrelease

import "time"

// EventType classifies an [Event].
type EventType string

// Event types, in the order a reconcile may emit them.
const (
	EventChartResolved    EventType = "ChartResolved"    // chart version chosen (Message: version and digest)
	EventChartCacheHit    EventType = "ChartCacheHit"    // chart archive found in the cache, not downloaded
	EventChartDownloaded  EventType = "ChartDownloaded"  // chart archive downloaded into the cache
	EventUnlocked         EventType = "Unlocked"         // a stuck pending revision was marked failed
	EventUpToDate         EventType = "UpToDate"         // nothing to do
	EventInstallStarted   EventType = "InstallStarted"   //
	EventInstallSucceeded EventType = "InstallSucceeded" //
	EventInstallFailed    EventType = "InstallFailed"    //
	EventUpgradeStarted   EventType = "UpgradeStarted"   //
	EventUpgradeSucceeded EventType = "UpgradeSucceeded" //
	EventUpgradeFailed    EventType = "UpgradeFailed"    //
	EventTestSucceeded    EventType = "TestSucceeded"    //
	EventTestFailed       EventType = "TestFailed"       //
	EventRolledBack       EventType = "RolledBack"       // remediation of a failed upgrade
	EventUninstalled      EventType = "Uninstalled"      // remediation of a failed install, or Uninstall
	EventRemediateFailed  EventType = "RemediationFailed"
	EventRetriesExhausted EventType = "RetriesExhausted"
	EventDriftDetected    EventType = "DriftDetected"
	EventDriftCorrected   EventType = "DriftCorrected"
	EventSkipped          EventType = "Skipped" // a dependency is not ready (ReconcileAll)
)

// Event reports progress. Events are delivered synchronously to
// [Options.Events] from the goroutine doing the work; a slow handler slows
// the reconcile.
type Event struct {
	Time      time.Time
	Type      EventType
	Namespace string
	Name      string
	// Revision is the revision concerned, if any.
	Revision int
	Message  string
	// Err is set on failure events.
	Err error
}
