package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// Reconcile converges the release to rel: it installs it when absent,
// upgrades it when the chart, the values or the configuration changed, and
// does nothing (no new revision) otherwise. A failed attempt is remediated
// (a failed install uninstalled, a failed upgrade rolled back to the last
// successful revision or uninstalled, as [UpgradePolicy.Remediation] says;
// the last failure kept when KeepLastFailed) and retried up to the
// policy's Retries; when they are exhausted the release is reported
// [ReasonRetriesExhausted] until the chart, values or configuration change. A revision left pending by a crash is
// unlocked first. When nothing changed and drift detection is on, live
// objects are compared with the release manifest.
//
// The returned Status describes the release whatever happened; the error is
// non-nil exactly when the release is not Ready, and is one of the typed
// errors of this package (match with [errors.Is]: [ErrInvalidSpec],
// [ErrValues], [ErrValuesFileNotFound], [ErrPostRender], [ErrAuthFailed], [ErrChartNotFound],
// [ErrChartVersionNotFound], [ErrFetch], [ErrInvalidChart],
// [ErrReleaseFailed], [ErrRetriesExhausted]) or a cluster or context error.
//
// Helm actions other than install and upgrade do not take a context: a
// cancelled ctx stops Reconcile between actions, and Helm's own
// [Release.Timeout] bounds each action.
func (r *Reconciler) Reconcile(ctx context.Context, rel Release) (Status, error) {
	st := Status{Name: rel.Name, Namespace: rel.Namespace}
	if err := rel.Validate(); err != nil {
		return st.fail(ReasonInvalidSpec, err)
	}
	defer r.lock(rel.Key())()

	values, err := MergeValues(rel.Values, rel.ValuesFrom...)
	if err != nil {
		return st.fail(ReasonValuesFailed, err)
	}
	valuesDigest, err := ValuesDigest(values)
	if err != nil {
		return st.fail(ReasonValuesFailed, err)
	}
	st.ValuesDigest = valuesDigest
	configDigest, err := rel.configDigest()
	if err != nil {
		return st.fail(ReasonInvalidSpec, err)
	}

	ch, info, err := r.fetchChart(ctx, &rel)
	st.Chart = info
	if err != nil {
		if errors.Is(err, ErrValues) {
			return st.fail(ReasonValuesFailed, err)
		}
		if errors.Is(err, ErrInvalidChart) {
			return st.fail(ReasonInvalidChart, err)
		}
		return st.fail(ReasonChartFailed, err)
	}
	want := desired{chart: shortDigest(ch.Digest), values: shortDigest(valuesDigest), config: shortDigest(configDigest)}

	drv, err := r.newDriver(rel.Namespace)
	if err != nil {
		return st.fail(ReasonClusterError, err)
	}
	hist, err := drv.History(ctx, rel.Name)
	if err != nil {
		return st.fail(ReasonClusterError, err)
	}
	if hist, err = r.unlockStuck(ctx, drv, &rel, hist, &st); err != nil {
		return st.fail(ReasonClusterError, err)
	}
	st.observe(hist)

	if len(hist) > 0 && hist[0].Status == driver.StatusDeployed && want.matches(hist[0]) {
		st.Ready, st.Reason = true, ReasonUpToDate
		st.Message = fmt.Sprintf("revision %d is up to date (chart %s %s)", hist[0].Revision, hist[0].ChartName, hist[0].ChartVersion)
		r.emit(&rel, Event{Type: EventUpToDate, Revision: hist[0].Revision, Message: st.Message})
		if rel.Drift.Mode != DriftDisabled {
			if err := r.drift(ctx, &rel, hist[0], &st); err != nil {
				return st.fail(ReasonClusterError, err)
			}
		}
		return st, nil
	}

	if rel.CreateNamespace {
		if err := drv.EnsureNamespace(ctx); err != nil {
			return st.fail(ReasonClusterError, err)
		}
	}
	rendered, err := drv.Render(ch, rel.Name, values, driver.RenderOptions{PostRender: postRender(ctx, &rel)})
	var prErr *PostRenderError
	if errors.As(err, &prErr) {
		return st.fail(ReasonPostRenderFailed, prErr)
	}
	if err != nil {
		return st.fail(ReasonInvalidChart, &ChartError{Chart: ch.Name + " " + ch.Version, Err: err})
	}
	if r.opts.Admit != nil {
		if err := r.opts.Admit(ctx, rendered); err != nil {
			return st.fail(ReasonPolicyViolation, err)
		}
	}
	return r.converge(ctx, drv, &rel, ch, values, want, hist, st)
}

// unlockStuck marks a revision left pending as failed, so that Helm accepts
// a new action, and returns the refreshed history.
func (r *Reconciler) unlockStuck(ctx context.Context, drv driver.Driver, rel *Release, hist []*driver.Release, st *Status) ([]*driver.Release, error) {
	if len(hist) == 0 || !hist[0].Status.IsPending() {
		return hist, nil
	}
	stuck := hist[0]
	msg := fmt.Sprintf("revision %d was stuck in %s (an operation was interrupted); marked failed", stuck.Revision, stuck.Status)
	if err := drv.Mark(ctx, rel.Name, stuck.Revision, driver.Mark{Status: driver.StatusFailed, Description: "Unlocked by gitopskit: " + msg}); err != nil {
		return nil, fmt.Errorf("unlock revision %d: %w", stuck.Revision, err)
	}
	st.Actions = append(st.Actions, ActionUnlock)
	r.emit(rel, Event{Type: EventUnlocked, Revision: stuck.Revision, Message: msg})
	return drv.History(ctx, rel.Name)
}

// converge runs attempts until one succeeds or the retries are exhausted.
//
// An attempt is in the install phase when nothing is deployed (no history,
// an uninstalled release, or a failed install left in place) and in the
// upgrade phase otherwise; failed attempts are counted per phase, for the
// desired chart, values and configuration, against that phase's retries.
func (r *Reconciler) converge(ctx context.Context, drv driver.Driver, rel *Release, ch *driver.Chart, values map[string]any, want desired, hist []*driver.Release, st Status) (Status, error) {
	var lastErr error
	for {
		leftover := leftoverFailedInstall(hist)
		installPhase := len(hist) == 0 || hist[0].Status == driver.StatusUninstalled || leftover
		phase, retries := phaseUpgrade, rel.Upgrade.Retries
		if installPhase {
			phase, retries = phaseInstall, rel.Install.Retries
		}
		retry := rel.Upgrade.RetryOnFailure
		if installPhase {
			retry = rel.Install.RetryOnFailure
		}
		failures := countFailures(hist, want, phase)
		st.Failures = failures
		st.observe(hist)
		exhausted := failures > retries && !retry
		// A failed install left in place (by KeepLastFailed, by a crash,
		// or by KeepFailed, which then upgrades it): uninstall it before
		// installing again, unless it is the last failure to keep.
		if leftover && !rel.Install.KeepFailed && !rel.Install.RetryOnFailure && !(exhausted && rel.Install.KeepLastFailed) {
			if err := r.uninstallFailed(ctx, drv, rel, hist[0].Revision, phaseInstall, errors.New(hist[0].Description), &st); err != nil {
				return st.fail(ReasonInstallFailed, err)
			}
			var err error
			if hist, err = drv.History(ctx, rel.Name); err != nil {
				return st.fail(ReasonClusterError, err)
			}
			st.observe(hist)
			leftover = false
		}
		if exhausted {
			return r.exhausted(rel, hist, want, failures, lastErr, st)
		}

		// The Helm action: an install, except on a failed install kept
		// in place, which is upgraded.
		install := installPhase && !leftover
		action, reason := ActionUpgrade, ReasonUpgradeFailed
		if install {
			action = ActionInstall
		}
		if installPhase {
			reason = ReasonInstallFailed
		}
		if err := r.applyCRDs(ctx, drv, rel, ch, install); err != nil {
			return st.fail(reason, &ReleaseError{Release: rel.Key(), Action: action, Err: fmt.Errorf("CRDs: %w", err)})
		}
		top := 0
		if len(hist) > 0 {
			top = hist[0].Revision
		}
		why := "new release"
		if !installPhase {
			why = want.changed(hist[0]) + " changed"
		}
		rev, attemptErr := r.attempt(ctx, drv, rel, ch, values, want, install, phase, why, &st)
		if attemptErr != nil && errors.Is(attemptErr, context.DeadlineExceeded) && ctx.Err() == nil {
			// Helm's wait ran out of its own time, not ours.
			attemptErr = fmt.Errorf("not ready within the timeout of %s: %w", rel.timeout(), attemptErr)
		}
		if attemptErr == nil {
			hist, err := drv.History(ctx, rel.Name)
			if err != nil {
				return st.fail(ReasonClusterError, err)
			}
			st.Failures = countFailures(hist, want, "")
			st.observe(hist)
			st.Ready = true
			st.Reason, st.Message = ReasonUpgraded, fmt.Sprintf("upgraded to revision %d (chart %s %s)", rev, ch.Name, ch.Version)
			if install {
				st.Reason, st.Message = ReasonInstalled, fmt.Sprintf("installed revision %d (chart %s %s)", rev, ch.Name, ch.Version)
			}
			return st, nil
		}
		if ctx.Err() != nil {
			return st.fail(reason, &ReleaseError{Release: rel.Key(), Action: action, Err: attemptErr})
		}

		// Did the attempt create a revision? If not, it failed before
		// touching the cluster (bad manifest, unreachable API server):
		// nothing to remediate, and retrying would fail the same way.
		after, err := drv.History(ctx, rel.Name)
		if err != nil {
			return st.fail(ReasonClusterError, errors.Join(attemptErr, err))
		}
		if len(after) == 0 || after[0].Revision <= top {
			st.observe(after)
			return st.fail(reason, &ReleaseError{Release: rel.Key(), Action: action, Err: attemptErr})
		}
		failed := after[0]
		var testErr *testFailure
		if errors.As(attemptErr, &testErr) {
			action, reason = ActionTest, ReasonTestFailed
		}
		mark := driver.Mark{Labels: map[string]string{LabelFailed: "true"}}
		if failed.Status == driver.StatusDeployed { // the test failed
			mark.Status, mark.Description = driver.StatusFailed, "Test failed: "+attemptErr.Error()
		}
		if err := drv.Mark(ctx, rel.Name, failed.Revision, mark); err != nil {
			return st.fail(ReasonClusterError, errors.Join(attemptErr, err))
		}
		relErr := &ReleaseError{Release: rel.Key(), Action: action, Revision: failed.Revision, Err: attemptErr}

		if retry {
			// Kept as it is; the next call tries again.
			if hist, err = drv.History(ctx, rel.Name); err != nil {
				return st.fail(ReasonClusterError, errors.Join(relErr, err))
			}
			st.Failures = countFailures(hist, want, phase)
			st.observe(hist)
			return st.fail(reason, relErr)
		}
		// Remediate, unless told to keep the failure (every one, or the
		// last when the retries are now exhausted).
		last := failures+1 > retries
		switch {
		case installPhase:
			if rel.Install.KeepFailed || last && rel.Install.KeepLastFailed {
				break
			}
			relErr.Remediation = ActionUninstall
			if err := r.uninstallFailed(ctx, drv, rel, failed.Revision, phaseInstall, attemptErr, &st); err != nil {
				return st.fail(reason, errors.Join(relErr, err))
			}
		case rel.Upgrade.KeepFailed || last && rel.Upgrade.KeepLastFailed:
		case rel.Upgrade.Remediation == RemediateUninstall:
			relErr.Remediation = ActionUninstall
			if err := r.uninstallFailed(ctx, drv, rel, failed.Revision, phaseUpgrade, attemptErr, &st); err != nil {
				return st.fail(reason, errors.Join(relErr, err))
			}
			if err := r.supersede(ctx, drv, rel, after, failed.Revision); err != nil {
				return st.fail(ReasonClusterError, errors.Join(relErr, err))
			}
		default:
			target := lastSuccessful(after, failed.Revision)
			if target == nil {
				break
			}
			relErr.Remediation = ActionRollback
			if err := r.rollback(ctx, drv, rel, target.Revision, &st); err != nil {
				return st.fail(reason, errors.Join(relErr, err))
			}
		}
		lastErr = relErr
		if hist, err = drv.History(ctx, rel.Name); err != nil {
			return st.fail(ReasonClusterError, errors.Join(relErr, err))
		}
		st.Message = relErr.Error()
	}
}

// supersede marks the revisions of hist other than uninstalled that Helm
// still records as deployed superseded: after a failed upgrade is
// uninstalled, the revision it was to replace is no longer deployed
// either, and Helm's uninstall only marks the newest revision.
func (r *Reconciler) supersede(ctx context.Context, drv driver.Driver, rel *Release, hist []*driver.Release, uninstalled int) error {
	for _, h := range hist {
		if h.Revision == uninstalled || h.Status != driver.StatusDeployed {
			continue
		}
		m := driver.Mark{Status: driver.StatusSuperseded, Description: fmt.Sprintf("Superseded: the failed upgrade to revision %d was uninstalled", uninstalled)}
		if err := drv.Mark(ctx, rel.Name, h.Revision, m); err != nil {
			return fmt.Errorf("mark revision %d superseded: %w", h.Revision, err)
		}
	}
	return nil
}

// testFailure wraps a failed test run, to tell it from a failed action.
type testFailure struct{ err error }

func (t *testFailure) Error() string { return "test: " + oneLine(t.err) }
func (t *testFailure) Unwrap() error { return t.err }

// oneLine flattens Helm's multi-line error lists ("1 error occurred:\n\t*
// x") into one line.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimPrefix(msg, "1 error occurred: * ")
}

// attempt runs one install or upgrade (and the tests) and returns the new
// revision.
func (r *Reconciler) attempt(ctx context.Context, drv driver.Driver, rel *Release, ch *driver.Chart, values map[string]any, want desired, install bool, phase, why string, st *Status) (int, error) {
	opts := driver.ActionOptions{
		Timeout:      rel.timeout(),
		Wait:         !rel.DisableWait,
		WaitForJobs:  rel.WaitForJobs,
		DisableHooks: rel.DisableHooks,
		SkipCRDs:     true, // applied by applyCRDs according to the policy
		Replace:      true,
		Force:        rel.Upgrade.Force,
		MaxHistory:   rel.maxHistory(),
		Labels:       want.labels(),
		PostRender:   postRender(ctx, rel),
		CommonLabels: rel.Labels,
	}
	opts.Labels[LabelPhase] = phase
	var (
		out *driver.Release
		err error
	)
	if install {
		delete(opts.Labels, LabelFailed) // nothing to merge on install
		opts.Description = "Installed by gitopskit"
		st.Actions = append(st.Actions, ActionInstall)
		r.emit(rel, Event{Type: EventInstallStarted, Message: fmt.Sprintf("installing chart %s %s (%s)", ch.Name, ch.Version, why)})
		out, err = drv.Install(ctx, rel.Name, ch, values, opts)
		if err != nil {
			r.emit(rel, Event{Type: EventInstallFailed, Message: "install failed", Err: err})
			return 0, err
		}
		r.emit(rel, Event{Type: EventInstallSucceeded, Revision: out.Revision, Message: fmt.Sprintf("installed revision %d", out.Revision)})
	} else {
		opts.Description = "Upgraded by gitopskit"
		st.Actions = append(st.Actions, ActionUpgrade)
		r.emit(rel, Event{Type: EventUpgradeStarted, Message: fmt.Sprintf("upgrading to chart %s %s (%s)", ch.Name, ch.Version, why)})
		out, err = drv.Upgrade(ctx, rel.Name, ch, values, opts)
		if err != nil {
			r.emit(rel, Event{Type: EventUpgradeFailed, Message: "upgrade failed", Err: err})
			return 0, err
		}
		r.emit(rel, Event{Type: EventUpgradeSucceeded, Revision: out.Revision, Message: fmt.Sprintf("upgraded to revision %d", out.Revision)})
	}
	if !rel.Test.Enable {
		return out.Revision, nil
	}
	st.Actions = append(st.Actions, ActionTest)
	if err := drv.Test(ctx, rel.Name, rel.timeout()); err != nil {
		r.emit(rel, Event{Type: EventTestFailed, Revision: out.Revision, Message: "tests failed", Err: err})
		if rel.Test.IgnoreFailures {
			return out.Revision, nil
		}
		return 0, &testFailure{err}
	}
	r.emit(rel, Event{Type: EventTestSucceeded, Revision: out.Revision, Message: "tests passed"})
	return out.Revision, nil
}

func (r *Reconciler) applyCRDs(ctx context.Context, drv driver.Driver, rel *Release, ch *driver.Chart, install bool) error {
	if !ch.HasCRDs {
		return nil
	}
	switch rel.crdPolicy(install) {
	case CRDSkip:
		return nil
	case CRDCreateReplace:
		return drv.ApplyCRDs(ctx, ch, true, rel.timeout())
	default:
		return drv.ApplyCRDs(ctx, ch, false, rel.timeout())
	}
}

func (r *Reconciler) uninstallFailed(ctx context.Context, drv driver.Driver, rel *Release, revision int, phase string, cause error, st *Status) error {
	st.Actions = append(st.Actions, ActionUninstall)
	err := drv.Uninstall(ctx, rel.Name, driver.UninstallOptions{
		Timeout:      rel.timeout(),
		Wait:         !rel.DisableWait,
		DisableHooks: rel.DisableHooks,
		KeepHistory:  true, // the failed attempt stays counted
		Description:  "Uninstalled by gitopskit after a failed " + phase + ": " + cause.Error(),
	})
	if err != nil {
		r.emit(rel, Event{Type: EventRemediateFailed, Revision: revision, Message: "uninstall of the failed " + phase + " failed", Err: err})
		return fmt.Errorf("remediation (uninstall): %w", err)
	}
	// Helm's next install marks the uninstalled revision superseded: the
	// label keeps the uninstall on record.
	if err := drv.Mark(ctx, rel.Name, revision, driver.Mark{Labels: map[string]string{LabelUninstalled: "true"}}); err != nil {
		return fmt.Errorf("remediation (uninstall): %w", err)
	}
	r.emit(rel, Event{Type: EventUninstalled, Revision: revision, Message: fmt.Sprintf("uninstalled failed %s (revision %d)", phase, revision)})
	return nil
}

func (r *Reconciler) rollback(ctx context.Context, drv driver.Driver, rel *Release, target int, st *Status) error {
	st.Actions = append(st.Actions, ActionRollback)
	err := drv.Rollback(ctx, rel.Name, target, driver.RollbackOptions{
		Timeout:      rel.timeout(),
		Wait:         !rel.DisableWait,
		WaitForJobs:  rel.WaitForJobs,
		DisableHooks: rel.DisableHooks,
		Force:        rel.Upgrade.Force,
		MaxHistory:   rel.maxHistory(),
	})
	if err != nil {
		r.emit(rel, Event{Type: EventRemediateFailed, Revision: target, Message: fmt.Sprintf("rollback to revision %d failed", target), Err: err})
		return fmt.Errorf("remediation (rollback to revision %d): %w", target, err)
	}
	r.emit(rel, Event{Type: EventRolledBack, Revision: target, Message: fmt.Sprintf("rolled back to revision %d", target)})
	return nil
}

func (r *Reconciler) exhausted(rel *Release, hist []*driver.Release, want desired, failures int, lastErr error, st Status) (Status, error) {
	last := ""
	for _, h := range hist {
		if want.matches(h) && isFailed(h) {
			last = fmt.Sprintf("revision %d: %s", h.Revision, h.Description)
			break
		}
	}
	err := &RetriesExhaustedError{Release: rel.Key(), Failures: failures, Last: last, Err: lastErr}
	r.emit(rel, Event{Type: EventRetriesExhausted, Message: err.Error(), Err: err})
	return st.fail(ReasonRetriesExhausted, err)
}

// countFailures counts the failed attempts made of want in phase (every
// phase for "").
func countFailures(hist []*driver.Release, want desired, phase string) int {
	n := 0
	for _, h := range hist {
		if want.matches(h) && isFailed(h) && (phase == "" || inPhase(h, phase)) {
			n++
		}
	}
	return n
}

// leftoverFailedInstall reports a history whose newest revision is a
// failed install left in place: a failed revision with no successful one
// between it and the last uninstall (or the start of the history).
func leftoverFailedInstall(hist []*driver.Release) bool {
	if len(hist) == 0 || hist[0].Status != driver.StatusFailed {
		return false
	}
	for _, h := range hist[1:] {
		switch {
		case h.Status == driver.StatusUninstalled || h.Labels[LabelUninstalled] == "true":
			return true
		case !isFailed(h) && (h.Status == driver.StatusDeployed || h.Status == driver.StatusSuperseded):
			return false
		}
	}
	return true
}

// lastSuccessful is the newest revision below before that was deployed
// successfully (deployed or superseded, and not a failed attempt).
func lastSuccessful(hist []*driver.Release, before int) *driver.Release {
	for _, h := range hist {
		if h.Revision >= before || isFailed(h) {
			continue
		}
		if h.Status == driver.StatusDeployed || h.Status == driver.StatusSuperseded {
			return h
		}
	}
	return nil
}

// fail sets the not-ready reason and message and returns err.
func (s Status) fail(reason Reason, err error) (Status, error) {
	s.Ready = false
	s.Reason = reason
	s.Message = err.Error()
	return s, err
}

// maxHistoryEntries bounds Status.History.
const maxHistoryEntries = 10

// observe fills the status fields that describe the cluster's records.
func (s *Status) observe(hist []*driver.Release) {
	s.History = nil
	s.Revision, s.ChartVersion, s.AppVersion, s.ReleaseStatus = 0, "", "", ""
	if len(hist) == 0 {
		return
	}
	cur := hist[0]
	s.Revision, s.ChartVersion, s.AppVersion, s.ReleaseStatus = cur.Revision, cur.ChartVersion, cur.AppVersion, string(cur.Status)
	for i, h := range hist {
		if i == maxHistoryEntries {
			break
		}
		s.History = append(s.History, HistoryEntry{
			Revision: h.Revision, Status: string(h.Status), ChartVersion: h.ChartVersion, AppVersion: h.AppVersion,
			Updated: h.Updated, Description: h.Description, Failed: isFailed(h),
		})
	}
}

// configDigest is the digest of the configuration that shapes the
// rendered objects besides the chart and values: the labels and the post
// renderers (left out when there are none, so that releases made before
// post renderers existed keep their digest).
func (r *Release) configDigest() (string, error) {
	if len(r.PostRenderers) == 0 {
		return digestOf(r.Labels)
	}
	return digestOf(struct {
		Labels        map[string]string `json:"labels"`
		PostRenderers []PostRenderer    `json:"postRenderers"`
	}{r.Labels, r.PostRenderers})
}

// postRender returns the function that applies rel's post renderers to
// Helm's rendered manifests, or nil when there are none.
func postRender(ctx context.Context, rel *Release) driver.PostRenderFunc {
	if len(rel.PostRenderers) == 0 {
		return nil
	}
	return func(manifests []byte) ([]byte, error) {
		for i, p := range rel.PostRenderers {
			var err error
			manifests, err = build.Transform(ctx, manifests, build.TransformOptions{Images: p.Images, Patches: p.Patches})
			if err != nil {
				return nil, &PostRenderError{Release: rel.Key(), Err: fmt.Errorf("postRenderers[%d]: %w", i, err)}
			}
		}
		return manifests, nil
	}
}
