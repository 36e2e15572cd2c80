package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/source"
)

// Run reconciles every unit once, in dependency order: the units of one
// level run in parallel, each source is asked once whether it moved, and a
// unit whose dependencies are not Ready (at the same revision, when they
// share its source) is left Pending with the reason and not applied.
//
// Run returns the resulting compliance state. Failures of units are part of
// the state, not errors; the error is non-nil only when ctx ended.
func (r *Reconciler) Run(ctx context.Context) (Status, error) {
	fetched := map[string]*fetchOnce{}
	for name := range r.sources {
		fetched[name] = &fetchOnce{}
	}
	fetch := func(ctx context.Context, name string) (*source.Artifact, error) {
		f := fetched[name]
		f.once.Do(func() { f.artifact, f.err = r.fetch(ctx, name) })
		return f.artifact, f.err
	}
	r.forgetNamespace() // one check per Run: it may have been deleted since
	if err := r.ensureNamespace(ctx); err == nil {
		r.removeUnits(ctx)
		defer func() {
			if err := r.saveRecord(context.WithoutCancel(ctx)); err != nil {
				r.emit(Event{Stage: StageDone, Message: err.Error(), Err: err})
			}
		}()
	}
	for _, level := range r.levels {
		var wg sync.WaitGroup
		for _, name := range level {
			wg.Go(func() { r.runUnit(ctx, r.units[name], fetch) })
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return r.Status(), err
		}
	}
	return r.Status(), nil
}

type fetchOnce struct {
	once     sync.Once
	artifact *source.Artifact
	err      error
}

type fetchFunc func(ctx context.Context, source string) (*source.Artifact, error)

// runUnit reconciles one unit after checking it may run, and records and
// reports its new status.
func (r *Reconciler) runUnit(ctx context.Context, st *unitState, fetch fetchFunc) UnitStatus {
	st.run.Lock()
	defer st.run.Unlock()
	u := st.spec
	next := st.status()
	next.Counts = Counts{} // counts describe this reconcile only
	next.LastReconciled = time.Now()
	defer func() {
		next.Duration = time.Since(next.LastReconciled)
		st.setStatus(next)
		r.emit(Event{Unit: u.Name, Stage: StageDone, Revision: next.LastAttemptedRevision,
			Message: fmt.Sprintf("%s (%s) %s", next.Phase, next.Reason, next.Message), Status: &next})
	}()
	notReady := func(reason string, err error) {
		next.Phase, next.Reason, next.Message = PhaseNotReady, reason, err.Error()
	}
	if u.Suspend {
		next.Phase, next.Reason, next.Message = PhaseSuspended, ReasonSuspended, "suspended"
		return next
	}
	var art *source.Artifact
	revision := ""
	if u.Source != "" {
		r.emit(Event{Unit: u.Name, Stage: StageFetch, Message: "checking " + r.sources[u.Source].spec.URL})
		var err error
		if art, err = fetch(ctx, u.Source); err != nil {
			r.emit(Event{Unit: u.Name, Stage: StageFetch, Err: err, Message: err.Error()})
			notReady(ReasonFetchFailed, err)
			return next
		}
		revision = art.Revision
		next.LastAttemptedRevision = revision
	}
	if reason := r.dependencyBlock(u, revision); reason != "" {
		next.Phase, next.Reason, next.Message = PhasePending, ReasonDependencyNotReady, reason
		return next
	}
	if u.Helm != nil {
		next = r.reconcileHelm(ctx, u, art, next)
		return next
	}
	out := r.reconcileUnit(ctx, st, art)
	if out.err != nil {
		r.forgetNamespace() // it may be what went missing
	}
	next.Counts = out.counts
	if out.objects >= 0 {
		next.Objects = out.objects
	}
	if out.err != nil {
		notReady(out.reason, out.err)
		return next
	}
	next.Phase, next.Reason = PhaseReady, ReasonSucceeded
	next.Message = fmt.Sprintf("applied revision %s: %s", art.Revision, out.counts)
	next.LastAppliedRevision = art.Revision
	return next
}

// dependencyBlock says why u may not run yet, or "" when it may.
func (r *Reconciler) dependencyBlock(u Unit, revision string) string {
	var why []string
	for _, dep := range u.DependsOn {
		ds := r.units[dep].status()
		switch {
		case ds.Phase != PhaseReady:
			why = append(why, fmt.Sprintf("dependency %s is %s (%s)", dep, ds.Phase, ds.Reason))
		case u.Source != "" && r.units[dep].spec.Source == u.Source && ds.LastAppliedRevision != revision:
			why = append(why, fmt.Sprintf("dependency %s has not applied %s yet (it is at %s)", dep, revision, ds.LastAppliedRevision))
		}
	}
	return strings.Join(why, "; ")
}

type unitOutcome struct {
	counts  Counts
	objects int // in the inventory after this reconcile; -1 when unknown
	reason  string
	err     error
}

// reconcileUnit builds, checks, applies, prunes and waits. A failure at any
// step stops there: nothing is pruned unless the build and the apply
// succeeded.
func (r *Reconciler) reconcileUnit(ctx context.Context, st *unitState, art *source.Artifact) (out unitOutcome) {
	u := st.spec
	out.objects = -1
	ev := func(stage Stage, msg string, err error) {
		r.emit(Event{Unit: u.Name, Stage: stage, Revision: art.Revision, Message: msg, Err: err})
	}
	fail := func(stage Stage, reason string, err error) unitOutcome {
		ev(stage, err.Error(), err)
		out.reason, out.err = reason, err
		return out
	}

	ev(StageBuild, "building "+displayPath(u.Path), nil)
	objs, err := r.build(ctx, u, art)
	if err != nil {
		return fail(StageBuild, ReasonBuildFailed, err)
	}
	ev(StageBuild, fmt.Sprintf("built %d objects", len(objs)), nil)

	if err := checkTenancy(u.Name, r.conf.Tenancy, objs, r.mapper.RESTMapper()); err != nil {
		return fail(StagePolicy, ReasonPolicyViolation, err)
	}
	if err := r.ensureNamespace(ctx); err != nil {
		return fail(StageApply, ReasonApplyFailed, err)
	}
	if len(objs) == 0 && !u.AllowEmpty {
		inv, err := st.store.Load(ctx)
		if err != nil {
			return fail(StageBuild, ReasonBuildFailed, err)
		}
		if inv.Len() > 0 {
			return fail(StageBuild, ReasonBuildFailed, fmt.Errorf(
				"%w: the build of %s at %s has no objects; refusing to prune the %d objects the unit applied (set AllowEmpty to allow it)",
				ErrEmptyBuild, displayPath(u.Path), art.Revision, inv.Len()))
		}
	}

	ctx, cancel := context.WithTimeout(ctx, u.Timeout)
	defer cancel()
	manager, waiter, err := r.clientsFor(u)
	if err != nil {
		return fail(StageApply, ReasonApplyFailed, err)
	}
	ev(StageApply, fmt.Sprintf("applying %d objects", len(objs)), nil)
	cs, err := manager.Apply(ctx, objs, apply.ApplyOptions{
		Inventory: st.store, Policy: u.Policy, Force: u.Force, TakeOverConflicts: true,
		Ignore: u.Ignore, Concurrency: r.opts.Concurrency,
	})
	if cs != nil {
		out.counts = countsOf(cs)
		out.objects = cs.Inventory().Len()
	}
	if cs != nil {
		// Taking fields back from another manager corrects drift; it must
		// never be silent.
		for _, c := range cs.Changes {
			if strings.HasPrefix(c.Reason, apply.ReasonTookOver) || strings.HasPrefix(c.Reason, apply.ReasonWouldTakeOver) {
				ev(StageApply, fmt.Sprintf("%s: %s", c.Object, c.Reason), nil)
			}
		}
	}
	if err != nil {
		return fail(StageApply, ReasonApplyFailed, err)
	}
	ev(StageApply, cs.Summary(), nil)

	if u.Prune {
		pruned, err := manager.Prune(ctx, cs, apply.PruneOptions{Concurrency: r.opts.Concurrency})
		if pruned != nil {
			out.counts.Deleted = pruned.Count(apply.Deleted)
			out.objects = pruned.Inventory().Len()
		}
		if err != nil {
			return fail(StagePrune, ReasonPruneFailed, err)
		}
		if out.counts.Deleted > 0 {
			ev(StagePrune, fmt.Sprintf("pruned %d objects", out.counts.Deleted), nil)
		}
	}

	if u.Wait && len(objs) > 0 {
		ev(StageHealth, fmt.Sprintf("waiting for %d objects to be ready", len(objs)), nil)
		timeout := u.Timeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if _, err := waiter.Wait(ctx, objs, health.WaitOptions{Timeout: timeout}); err != nil {
			return fail(StageHealth, ReasonHealthCheckFailed, err)
		}
		ev(StageHealth, "all objects ready", nil)
	}
	return out
}

// ErrEmptyBuild is returned (wrapped) when a unit's build has no objects
// while its inventory has some, and the unit does not allow that.
var ErrEmptyBuild = errors.New("empty build")

func (r *Reconciler) build(ctx context.Context, u Unit, art *source.Artifact) ([]*unstructured.Unstructured, error) {
	opts := u.Build
	opts.Cache, opts.ArtifactDigest = r.opts.BuildCache, art.Digest
	return build.Kustomize(ctx, art.Dir, u.Path, opts)
}

func countsOf(cs *apply.ChangeSet) Counts {
	return Counts{
		Created:    cs.Count(apply.Created),
		Configured: cs.Count(apply.Configured),
		Unchanged:  cs.Count(apply.Unchanged),
		Deleted:    cs.Count(apply.Deleted),
		Skipped:    cs.Count(apply.Skipped),
	}
}

func displayPath(p string) string {
	if p == "" || p == "." {
		return "the repository root"
	}
	return p
}
