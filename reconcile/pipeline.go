package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// outcome is what the unit pipeline did (or, in a dry run, would do).
type outcome struct {
	revision string
	counts   Counts
	objects  int // in the inventory afterwards; -1 when unknown
	reason   string
	err      error
	// apply and prune are the change sets, for plans.
	apply, prune *apply.ChangeSet
	// helm describes a Helm unit's release.
	helm string
	// gone are the units the build no longer declares: removed after a
	// successful prune, or only reported in a dry run.
	gone []string
}

// reconcileUnit runs one unit through the pipeline, gated by its
// dependencies, and records and reports its new status.
func (rd *round) reconcileUnit(ctx context.Context, st *unitState) UnitStatus {
	r := rd.r
	st.run.Lock()
	defer st.run.Unlock()
	u := st.specOf()
	next := st.status()
	next.Counts = Counts{} // counts describe this reconcile only
	next.LastReconciled = time.Now()
	defer func() {
		next.Duration = time.Since(next.LastReconciled)
		st.setStatus(next)
		r.emit(Event{Type: EventDone, Unit: u.Name, Stage: StageDone, Revision: next.LastAttemptedRevision,
			Message: fmt.Sprintf("%s (%s) %s", next.Phase, next.Reason, next.Message), Status: &next})
	}()
	if u.Suspend {
		next.Phase, next.Reason, next.Message = PhaseSuspended, ReasonSuspended, "suspended"
		return next
	}
	out := rd.pipeline(ctx, st, func(revision string) string {
		next.LastAttemptedRevision = revision
		return r.dependencyBlock(u, revision)
	})
	if out.revision != "" {
		next.LastAttemptedRevision = out.revision
	}
	if out.reason == ReasonDependencyNotReady {
		next.Phase, next.Reason, next.Message = PhasePending, out.reason, out.err.Error()
		return next
	}
	next.Counts = out.counts
	if out.objects >= 0 {
		next.Objects = out.objects
	}
	if out.err != nil {
		r.forgetNamespace() // it may be what went missing
		next.Phase, next.Reason, next.Message = PhaseNotReady, out.reason, out.err.Error()
		return next
	}
	next.Phase, next.Reason = PhaseReady, ReasonSucceeded
	if out.helm != "" {
		next.Message = out.helm
	} else {
		next.Message = fmt.Sprintf("applied revision %s: %s", out.revision, out.counts)
	}
	next.LastAppliedRevision = out.revision
	return next
}

// pipeline is the one unit pipeline behind Run, Start and Plan, for
// kustomize and Helm units alike: fetch, gate, build, admit, apply, prune,
// wait. In a dry run (rd.dryRun) nothing changes in the cluster and the
// change sets say what would. gate is called with the revision once it is
// known and returns why the unit may not run yet, or "".
func (rd *round) pipeline(ctx context.Context, st *unitState, gate func(revision string) string) (out outcome) {
	r := rd.r
	u := st.specOf()
	out.objects = -1
	ev := func(e Event) {
		e.Unit, e.Revision = u.Name, out.revision
		r.emit(e)
	}
	progress := func(stage Stage, msg string) { ev(Event{Type: EventProgress, Stage: stage, Message: msg}) }
	fail := func(stage Stage, reason string, err error) outcome {
		ev(Event{Type: EventFailed, Stage: stage, Message: err.Error(), Err: err})
		out.reason, out.err = reason, err
		return out
	}

	var art *source.Artifact
	if u.Source != "" {
		progress(StageFetch, "checking "+source.RedactURL(r.sourceURL(u.Source)))
		var err error
		if art, err = rd.fetch(ctx, u.Source); err != nil {
			return fail(StageFetch, ReasonFetchFailed, err)
		}
		out.revision = art.Revision
		if len(u.Compose) > 0 {
			if art, err = r.compose(ctx, u, art); err != nil {
				return fail(StageFetch, ReasonFetchFailed, err)
			}
		}
	}
	if gate != nil {
		if why := gate(out.revision); why != "" {
			out.reason, out.err = ReasonDependencyNotReady, errors.New(why)
			return out
		}
	}
	// The unit's time starts now, when a worker picked it up: time spent
	// queued behind other units does not count against it. Each stage
	// (build and admission, apply, prune, wait) has a deadline of its own,
	// u.Timeout from the moment it starts, as Flux's timeout bounds each
	// of its operations; a Helm unit's actions are one stage.
	stage := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, u.Timeout) }
	buildCtx, cancelBuild := stage()
	defer cancelBuild()
	if r.offline != nil {
		return rd.render(buildCtx, st, u, art, out, fail)
	}
	if !rd.dryRun {
		if err := r.ensureNamespace(buildCtx); err != nil {
			return fail(StageApply, ReasonApplyFailed, err)
		}
	}
	id, err := r.identityFor(r.userOf(u.ServiceAccountNamespace, u.ServiceAccountName))
	if err != nil {
		return fail(StageApply, ReasonApplyFailed, err)
	}
	if u.Helm != nil {
		return rd.helm(buildCtx, st, id, art, out, ev, fail)
	}

	objs, gone, err := rd.build(buildCtx, st, u, art, id, progress)
	out.gone = gone
	if err != nil {
		switch {
		case errors.Is(err, apply.ErrPruneRefused):
			return fail(StagePrune, ReasonPruneFailed, err)
		case errors.Is(err, ErrPolicyViolation):
			return fail(StagePolicy, ReasonPolicyViolation, err)
		}
		return fail(StageBuild, ReasonBuildFailed, err)
	}

	if err := rd.admit(buildCtx, u.Name, objs, id); err != nil {
		return fail(StagePolicy, ReasonPolicyViolation, err)
	}
	cancelBuild()
	var preceding []*unstructured.Unstructured
	if rd.dryRun {
		rd.planCreates(u.Name, objs)
		preceding = rd.preceding(u.Name)
	}

	progress(StageApply, fmt.Sprintf("applying %d objects", len(objs)))
	applyCtx, cancelApply := stage()
	defer cancelApply()
	cs, err := id.manager.Apply(applyCtx, objs, apply.ApplyOptions{
		Inventory: st.store, Policy: u.Policy, Force: u.Force, TakeOverConflicts: true,
		Ignore: u.Ignore, Concurrency: r.opts.Concurrency, DryRun: rd.dryRun, Preceding: preceding,
		Reads: rd.reads, Recover: rd.recoverFor(u.Name),
	})
	out.apply = cs
	if cs != nil {
		out.counts = countsOf(cs)
		out.objects = cs.Inventory().Len()
		for _, c := range cs.Changes {
			ev(Event{Type: EventObject, Stage: StageApply, Object: c.Object.ID(), Action: string(c.Action),
				Message: changeMessage(c), Err: c.Err})
		}
	}
	if cs != nil && !rd.dryRun {
		r.markExisted(u.Name)
	}
	if err != nil {
		return fail(StageApply, ReasonApplyFailed, err)
	}
	progress(StageApply, cs.Summary())

	if u.Prune {
		popts := apply.PruneOptions{Concurrency: r.opts.Concurrency, AllowEmpty: u.AllowEmpty, MaxShare: u.MaxPruneShare}
		if r.opts.ApprovePrune != nil {
			popts.Approve = func(ctx context.Context, d []inventory.Entry) error { return r.opts.ApprovePrune(ctx, u.Name, d) }
		}
		pruneCtx, cancelPrune := stage()
		defer cancelPrune()
		pruned, err := id.manager.Prune(pruneCtx, cs, popts)
		out.prune = pruned
		if pruned != nil {
			out.counts.Deleted = pruned.Count(apply.Deleted)
			out.objects = pruned.Inventory().Len()
			for _, c := range pruned.Changes {
				ev(Event{Type: EventObject, Stage: StagePrune, Object: c.Object.ID(), Action: string(c.Action),
					Message: changeMessage(c), Err: c.Err})
			}
		}
		if err != nil {
			return fail(StagePrune, ReasonPruneFailed, err)
		}
		if out.counts.Deleted > 0 {
			progress(StagePrune, fmt.Sprintf("pruned %d objects", out.counts.Deleted))
		}
	}

	if len(out.gone) > 0 && !rd.dryRun {
		removeCtx, cancelRemove := stage()
		defer cancelRemove()
		if err := r.removeChildren(removeCtx, u, out.gone); err != nil {
			return fail(StageRemove, ReasonPruneFailed, err)
		}
	}

	if rd.dryRun {
		return out
	}
	// The round's shared watches see the objects of units only (they
	// select the inventory label); health checks may name any object.
	waitFor, watches := objs, rd.watches
	if !u.Wait {
		waitFor, _ = r.healthChecks(u.HealthCheckRefs)
		watches = nil
	}
	if len(waitFor) > 0 {
		progress(StageHealth, fmt.Sprintf("waiting for %d objects to be ready", len(waitFor)))
		waiter, err := health.NewWaiter(id.cluster, health.WaiterOptions{Checks: u.HealthChecks, Logger: r.opts.Logger})
		if err != nil {
			return fail(StageHealth, ReasonHealthCheckFailed, err)
		}
		releaseWorker(ctx) // waiting holds no worker
		if _, err := waiter.Wait(ctx, waitFor, health.WaitOptions{Timeout: u.Timeout, Watches: watches,
			OnStatus: func(s health.ObjectStatus) {
				ev(Event{Type: EventObject, Stage: StageHealth, Object: s.Object, Action: string(s.Status), Message: s.Message})
			}}); err != nil {
			return fail(StageHealth, ReasonHealthCheckFailed, err)
		}
		progress(StageHealth, "all objects ready")
	}
	return out
}

// build builds a kustomize unit and, unless Options.FluxObjects says
// otherwise, makes the Flux objects of the build part of the graph. It
// returns the objects to apply and the units the build no longer declares.
func (rd *round) build(ctx context.Context, st *unitState, u Unit, art *source.Artifact, id *identity,
	progress func(Stage, string)) (objs []*unstructured.Unstructured, gone []string, err error) {
	r := rd.r
	progress(StageBuild, "building "+displayPath(u.Path))
	opts := u.Build
	opts.Cache, opts.ArtifactDigest = r.opts.BuildCache, art.Digest
	if opts.Substitute, err = r.substitutions(ctx, u); err != nil {
		return nil, nil, err
	}
	if objs, err = build.Kustomize(ctx, art.Dir, u.Path, opts); err != nil {
		return nil, nil, err
	}
	if objs, err = r.decrypt(ctx, u, objs); err != nil {
		return nil, nil, err
	}
	progress(StageBuild, fmt.Sprintf("built %d objects", len(objs)))
	if r.opts.FluxObjects == ReconcileFluxObjects {
		var flux []*unstructured.Unstructured
		flux, objs = FluxObjects(objs)
		if gone, err = rd.declare(ctx, st, u, flux, len(objs) == 0, id); err != nil {
			return nil, nil, err
		}
	}
	return objs, gone, nil
}

func changeMessage(c apply.Change) string {
	if c.Err != nil {
		return c.Err.Error()
	}
	return c.Reason
}

// dependencyBlock says why u may not run yet, or "" when it may.
func (r *Reconciler) dependencyBlock(u Unit, revision string) string {
	var why []string
	for _, dep := range u.DependsOn {
		dst := r.unit(dep)
		if dst == nil {
			why = append(why, fmt.Sprintf("dependency %s is not declared (yet)", dep))
			continue
		}
		ds, spec := dst.status(), dst.specOf()
		below := ""
		if ds.Phase == PhaseReady {
			below = r.notReadyBelow(dep, u.Name)
		}
		switch {
		case ds.Phase != PhaseReady:
			why = append(why, fmt.Sprintf("dependency %s is %s (%s)", dep, ds.Phase, ds.Reason))
		case below != "":
			why = append(why, fmt.Sprintf("dependency %s waits for what it declares or health-checks, and %s", dep, below))
		case u.Source != "" && spec.Source == u.Source && ds.LastAppliedRevision != revision:
			why = append(why, fmt.Sprintf("dependency %s has not applied %s yet (it is at %s)", dep, revision, ds.LastAppliedRevision))
		}
	}
	return strings.Join(why, "; ")
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
