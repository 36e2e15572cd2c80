package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// Finalizer keeps a deleted GitOpsUnit until its objects are pruned (or
// orphaned).
const Finalizer = "gitops.example.com/finalizer"

// Reasons of the Ready condition.
const (
	ReasonSucceeded         = "ReconciliationSucceeded"
	ReasonFetchFailed       = "FetchFailed"
	ReasonBuildFailed       = "BuildFailed"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonPruneFailed       = "PruneFailed"
	ReasonHealthCheckFailed = "HealthCheckFailed"
	ReasonDeleteFailed      = "DeleteFailed"
)

// Reconciler reconciles GitOpsUnits with the gitopskit pipeline:
// source.Fetch, build.Kustomize, apply.Manager.Apply, Prune, health.Wait.
type Reconciler struct {
	Client    client.Client // the manager's (cached reads)
	APIReader client.Reader // uncached reads, for versions that must be current
	Applier   *apply.Manager
	Waiter    *health.Waiter
	Sources   *source.Cache // one bare clone per URL, shared by all units
	Builds    *build.Cache  // builds by artifact digest, shared by all units
}

// SetupWithManager registers the controller. Only spec changes (and
// deletion, which bumps the generation) trigger a reconcile: the status
// writes of a reconcile do not.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&GitOpsUnit{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// Reconcile makes the cluster match one GitOpsUnit's revision and records
// the outcome in its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	unit := &GitOpsUnit{}
	if err := r.Client.Get(ctx, req.NamespacedName, unit); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	store, err := newStatusStorage(r.Client, r.APIReader, unit)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !unit.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, unit, store)
	}
	if unit.Spec.Suspend {
		log.Info("suspended")
		return ctrl.Result{}, nil
	}
	if err := r.patchParent(ctx, unit, store.Owner(), unit.Status.inventory()); err != nil {
		return ctrl.Result{}, err
	}

	start := time.Now()
	out := r.sync(ctx, unit, store)
	if errors.Is(out.err, inventory.ErrConflict) {
		// The unit changed while we applied (a spec edit, say): not a
		// failure to report, retry soon with backoff.
		return ctrl.Result{}, out.err
	}

	// The one status write of the reconcile. It leaves status.inventory
	// alone: statusStorage wrote it (up to three times: before applying new
	// objects, after the apply, after the prune).
	st := &unit.Status
	st.ObservedGeneration = unit.Generation
	if out.revision != "" {
		st.LastAttemptedRevision = out.revision
	}
	if out.change != "" {
		st.LastChange = out.change
	}
	cond := metav1.Condition{Type: ReadyCondition, Status: metav1.ConditionTrue, Reason: ReasonSucceeded,
		ObservedGeneration: unit.Generation, Message: "Applied revision " + out.revision}
	if out.err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, out.reason, out.err.Error()
	} else {
		st.LastAppliedRevision = out.revision
	}
	apimeta.SetStatusCondition(&st.Conditions, cond)
	if err := r.patchStatus(ctx, unit); err != nil {
		return ctrl.Result{}, err
	}
	// Keep the ApplySet annotations in step with the new inventory.
	if err := r.patchParent(ctx, unit, store.Owner(), unit.Status.inventory()); err != nil {
		return ctrl.Result{}, err
	}

	took := time.Since(start).Round(time.Millisecond)
	if out.err != nil {
		log.Error(out.err, "reconcile failed", "revision", out.revision, "reason", out.reason, "duration", took)
	} else {
		log.Info("reconciled", "revision", out.revision, "change", out.change, "duration", took)
	}
	return ctrl.Result{RequeueAfter: unit.Spec.interval()}, nil
}

// outcome is what one pass of the pipeline did.
type outcome struct {
	revision string
	change   string // "2 created, 1 unchanged; 1 pruned"; "" when nothing changed
	reason   string // of the failure
	err      error
}

// sync runs the pipeline once, within the unit's timeout: fetch, build,
// apply, prune, wait.
func (r *Reconciler) sync(ctx context.Context, unit *GitOpsUnit, store inventory.Storage) (out outcome) {
	spec := unit.Spec
	fail := func(reason string, err error) outcome { out.reason, out.err = reason, err; return out }
	ctx, cancel := context.WithTimeout(ctx, spec.timeout())
	defer cancel()

	art, err := r.fetch(ctx, unit)
	if err != nil {
		return fail(ReasonFetchFailed, err)
	}
	out.revision = art.Revision

	// The build cache returns the objects of an artifact digest it has
	// built before: an unchanged revision is not rebuilt.
	objs, err := build.Kustomize(ctx, art.Dir, spec.Path, build.KustomizeOptions{
		TargetNamespace: spec.TargetNamespace, Cache: r.Builds, ArtifactDigest: art.Digest,
	})
	if err != nil {
		return fail(ReasonBuildFailed, err)
	}
	if len(objs) == 0 && len(unit.Status.Inventory) > 0 {
		return fail(ReasonBuildFailed, fmt.Errorf("the build of %q has no objects: refusing to delete the %d objects of the unit",
			spec.Path, len(unit.Status.Inventory)))
	}

	cs, err := r.Applier.Apply(ctx, objs, apply.ApplyOptions{Inventory: store, TakeOverConflicts: true})
	if cs != nil && cs.Count(apply.Created)+cs.Count(apply.Configured) > 0 {
		out.change = cs.Summary()
	}
	if err != nil {
		return fail(ReasonApplyFailed, err)
	}
	if spec.Prune {
		pruned, err := r.Applier.Prune(ctx, cs, apply.PruneOptions{})
		if pruned != nil && pruned.Count(apply.Deleted) > 0 { // nil only for misuse
			out.change = fmt.Sprintf("%s; %d pruned", cs.Summary(), pruned.Count(apply.Deleted))
		}
		if err != nil {
			return fail(ReasonPruneFailed, err)
		}
	}
	if spec.Wait && len(objs) > 0 {
		deadline, _ := ctx.Deadline()
		if _, err := r.Waiter.Wait(ctx, objs, health.WaitOptions{Timeout: time.Until(deadline)}); err != nil {
			return fail(ReasonHealthCheckFailed, err)
		}
	}
	return out
}

// fetch returns the unit's artifact at the revision its ref names now. When
// the remote still has status.lastAttemptedRevision, Fetch answers after one
// ls-remote with the Cache's artifact of it; only if the Cache dropped it
// (or on a first reconcile) is the revision fetched.
func (r *Reconciler) fetch(ctx context.Context, unit *GitOpsUnit) (*source.Artifact, error) {
	opts := source.Options{Ref: unit.Spec.Ref.sourceRef(), Cache: r.Sources, LastRevision: unit.Status.LastAttemptedRevision}
	res, err := source.Fetch(ctx, unit.Spec.URL, opts)
	if err == nil && res.Unchanged && res.Artifact == nil {
		opts.LastRevision = ""
		res, err = source.Fetch(ctx, unit.Spec.URL, opts)
	}
	if err != nil {
		return nil, err
	}
	return res.Artifact, nil
}

// finalize removes a deleted unit's objects (deleted with prune, orphaned
// without; left alone when suspended) and then the finalizer.
func (r *Reconciler) finalize(ctx context.Context, unit *GitOpsUnit, store inventory.Storage) error {
	if !controllerutil.ContainsFinalizer(unit, Finalizer) {
		return nil
	}
	if !unit.Spec.Suspend {
		policy := apply.OrphanObjects
		if unit.Spec.Prune {
			policy = apply.DeleteObjects
		}
		dctx, cancel := context.WithTimeout(ctx, unit.Spec.timeout())
		cs, err := r.Applier.DeleteUnit(dctx, store, apply.DeleteUnitOptions{Policy: policy})
		cancel()
		if err != nil {
			apimeta.SetStatusCondition(&unit.Status.Conditions, metav1.Condition{Type: ReadyCondition,
				Status: metav1.ConditionFalse, Reason: ReasonDeleteFailed, Message: err.Error(),
				ObservedGeneration: unit.Generation})
			return errors.Join(err, r.patchStatus(ctx, unit))
		}
		ctrl.LoggerFrom(ctx).Info("deleted unit", "policy", policy, "change", cs.Summary())
	}
	// The inventory saves changed the unit: read it again before updating.
	fresh := &GitOpsUnit{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(unit), fresh); err != nil {
		return client.IgnoreNotFound(err)
	}
	if controllerutil.RemoveFinalizer(fresh, Finalizer) {
		return client.IgnoreNotFound(r.Client.Update(ctx, fresh))
	}
	return nil
}

// patchStatus writes the status fields the reconciler owns, all but
// inventory, with a merge patch: no version check, and status.inventory
// stays as statusStorage left it.
func (r *Reconciler) patchStatus(ctx context.Context, unit *GitOpsUnit) error {
	st := unit.Status
	st.Inventory = nil // omitted
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	return r.Client.Status().Patch(ctx, unit, client.RawPatch(types.MergePatchType, patch))
}

// patchParent adds the finalizer and makes the unit a kubectl ApplySet
// parent: its ID label, and the tooling, group-kinds and namespaces
// annotations that inventory.Store writes on its Secrets. It writes only
// when something changed, checking the resourceVersion.
func (r *Reconciler) patchParent(ctx context.Context, unit *GitOpsUnit, owner inventory.Owner, inv inventory.Inventory) error {
	base := unit.DeepCopy()
	controllerutil.AddFinalizer(unit, Finalizer)
	labels, annotations := inventory.ParentMetadata(owner, inv)
	for k, v := range labels {
		metav1.SetMetaDataLabel(&unit.ObjectMeta, k, v)
	}
	delete(unit.Annotations, inventory.AnnotationApplySetNamespaces) // when none is left
	for k, v := range annotations {
		metav1.SetMetaDataAnnotation(&unit.ObjectMeta, k, v)
	}
	if equality.Semantic.DeepEqual(base.ObjectMeta, unit.ObjectMeta) {
		return nil
	}
	return r.Client.Patch(ctx, unit, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}
