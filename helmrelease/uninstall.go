package helmrelease

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// Uninstall removes the release: its objects (waiting for them to be gone
// unless rel.DisableWait) and its whole history. Only rel's Name,
// Namespace, Timeout, DisableWait and DisableHooks are used. Uninstalling a
// release that does not exist is not an error (Reason
// [ReasonNotInstalled]).
func (r *Reconciler) Uninstall(ctx context.Context, rel Release) (Status, error) {
	st := Status{Name: rel.Name, Namespace: rel.Namespace}
	if rel.Name == "" || rel.Namespace == "" {
		return st.fail(ReasonInvalidSpec, &SpecError{Release: rel.Key(), Problems: []string{"name and namespace are required"}})
	}
	defer r.lock(rel.Key())()
	drv, err := r.newDriver(rel.Namespace)
	if err != nil {
		return st.fail(ReasonClusterError, err)
	}
	hist, err := drv.History(ctx, rel.Name)
	if err != nil {
		return st.fail(ReasonClusterError, err)
	}
	if len(hist) == 0 {
		st.Reason, st.Message = ReasonNotInstalled, "release not installed"
		return st, nil
	}
	if hist, err = r.unlockStuck(ctx, drv, &rel, hist, &st); err != nil {
		return st.fail(ReasonClusterError, err)
	}
	st.Actions = append(st.Actions, ActionUninstall)
	err = drv.Uninstall(ctx, rel.Name, driver.UninstallOptions{
		Timeout:      rel.timeout(),
		Wait:         !rel.DisableWait,
		DisableHooks: rel.DisableHooks,
	})
	if err != nil {
		return st.fail(ReasonClusterError, fmt.Errorf("helmrelease: %s: uninstall: %w", rel.Key(), err))
	}
	st.Reason = ReasonUninstalled
	st.Message = fmt.Sprintf("uninstalled (was revision %d, chart %s %s)", hist[0].Revision, hist[0].ChartName, hist[0].ChartVersion)
	r.emit(&rel, Event{Type: EventUninstalled, Revision: hist[0].Revision, Message: st.Message})
	return st, nil
}
