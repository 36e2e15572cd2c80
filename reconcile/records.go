package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/inventory"
)

// The configuration's record: a ConfigMap "<configuration>-status" in the
// configuration's namespace holding, per unit, its last status and whether it
// prunes. It lets a new process pick up the last applied revisions, and it
// is how a unit removed from the configuration is noticed and cleaned up.
const (
	// LabelConfiguration names the configuration a record belongs to.
	LabelConfiguration = "gitopskit.io/configuration"
	recordKey          = "status.json"
)

type record struct {
	Units map[string]recordUnit `json:"units"`
	// Sources are the sources' last fetches, for ReadStatus.
	Sources []SourceStatus `json:"sources,omitempty"`
}

type recordUnit struct {
	// Prune says whether the unit's objects are deleted when it is
	// removed (its DeletionPolicy applied to its prune setting).
	Prune bool `json:"prune"`
	// WaitForTermination waits, within Timeout, for the deleted objects
	// to be gone.
	WaitForTermination bool          `json:"waitForTermination,omitempty"`
	Timeout            time.Duration `json:"timeout,omitempty"`
	// ServiceAccount is the service account the unit acted as; its
	// removal acts as it too.
	ServiceAccount          string   `json:"serviceAccount,omitempty"`
	ServiceAccountNamespace string   `json:"serviceAccountNamespace,omitempty"`
	DependsOn               []string `json:"dependsOn,omitempty"`
	// Parent is the unit whose build declared this one: the unit is
	// kept while its parent is in the configuration, and removed when
	// the parent stops declaring it or is removed itself.
	Parent string `json:"parent,omitempty"`
	// FluxObject is the unit's Flux object, for status readers.
	FluxObject string `json:"fluxObject,omitempty"`
	// Objects is the number of objects in the unit's inventory.
	Objects int `json:"objects,omitempty"`
	// HelmRelease is "namespace/name" for a Helm unit, uninstalled when
	// the unit is removed.
	HelmRelease           string    `json:"helmRelease,omitempty"`
	Phase                 Phase     `json:"phase"`
	Reason                string    `json:"reason,omitempty"`
	Message               string    `json:"message,omitempty"`
	LastAppliedRevision   string    `json:"lastAppliedRevision,omitempty"`
	LastAttemptedRevision string    `json:"lastAttemptedRevision,omitempty"`
	LastReconciled        time.Time `json:"lastReconciled,omitzero"`
}

func (r *Reconciler) recordName() string { return r.conf.Name + "-status" }

// loadRecord reads the record once per Reconciler: restores the revisions of
// known units and returns the units that left the configuration.
func (r *Reconciler) loadRecord(ctx context.Context) (removed map[string]recordUnit, err error) {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	if r.recLoaded {
		return r.removed, nil
	}
	cm, err := r.cluster.Kubernetes().CoreV1().ConfigMaps(r.conf.Namespace).Get(ctx, r.recordName(), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reconcile: read record %s/%s: %w", r.conf.Namespace, r.recordName(), err)
	}
	r.removed = map[string]recordUnit{}
	r.existed = map[string]bool{}
	r.dormant = map[string]recordUnit{}
	if err == nil {
		var rec record
		if err := json.Unmarshal([]byte(cm.Data[recordKey]), &rec); err != nil {
			return nil, fmt.Errorf("reconcile: record %s/%s is corrupt: %w", r.conf.Namespace, r.recordName(), err)
		}
		for name, ru := range rec.Units {
			if ru.LastAppliedRevision != "" || ru.Phase == PhaseReady || ru.Reason == ReasonHealthCheckFailed || ru.Reason == ReasonPruneFailed {
				r.existed[name] = true // it applied something
			}
			st := r.unit(name)
			if st == nil {
				r.removed[name] = ru
				continue
			}
			st.mu.Lock()
			if st.state.LastAppliedRevision == "" {
				st.state.LastAppliedRevision = ru.LastAppliedRevision
				st.state.LastAttemptedRevision = ru.LastAttemptedRevision
			}
			st.mu.Unlock()
		}
	}
	// A unit a build declared waits for its parent's next build, unless
	// the parent left the configuration: then it goes with it.
	for changed := true; changed; {
		changed = false
		for name, ru := range r.removed {
			if ru.Parent == "" {
				continue
			}
			if r.unit(ru.Parent) != nil {
				r.dormant[name] = ru
				delete(r.removed, name)
				changed = true
			} else if _, ok := r.dormant[ru.Parent]; ok {
				r.dormant[name] = ru
				delete(r.removed, name)
				changed = true
			}
		}
	}
	r.recLoaded = true
	return r.removed, nil
}

// removeUnits deletes (when the unit pruned) or orphans the objects of units
// that left the configuration, then their inventories, each as the service
// account the unit acted as, dependents before their dependencies. A Helm
// unit's release is uninstalled. A unit whose removal fails stays in the
// record and is retried.
func (r *Reconciler) removeUnits(ctx context.Context) {
	r.remMu.Lock()
	defer r.remMu.Unlock()
	r.recMu.Lock()
	removed := maps.Clone(r.removed)
	r.recMu.Unlock()
	for _, name := range removalOrder(removed) {
		ru := removed[name]
		err := r.removeUnit(ctx, name, ru)
		if err != nil {
			r.emit(Event{Type: EventFailed, Unit: name, Stage: StageRemove, Message: "removing the unit: " + err.Error(), Err: err})
			continue
		}
		r.recMu.Lock()
		delete(r.removed, name)
		r.recMu.Unlock()
	}
}

func (r *Reconciler) removeUnit(ctx context.Context, name string, ru recordUnit) error {
	id, err := r.identityFor(r.userOf(ru.ServiceAccountNamespace, ru.ServiceAccount))
	if err != nil {
		return err
	}
	if ru.HelmRelease != "" {
		ns, rel, _ := strings.Cut(ru.HelmRelease, "/")
		hr, err := r.helmFor(id.cluster.Identity())
		if err != nil {
			return err
		}
		if _, err := hr.Uninstall(ctx, helmrelease.Release{Name: rel, Namespace: ns}); err != nil {
			return err
		}
		r.emit(Event{Type: EventProgress, Unit: name, Stage: StageRemove, Message: "unit removed from the configuration: release " + ru.HelmRelease + " uninstalled"})
		return nil
	}
	policy := apply.OrphanObjects
	if ru.Prune {
		policy = apply.DeleteObjects
	}
	store, err := r.newStore(name)
	if err != nil {
		return err
	}
	cs, err := id.manager.DeleteUnit(ctx, store, apply.DeleteUnitOptions{Policy: policy, Concurrency: r.opts.Concurrency})
	if cs == nil {
		return err
	}
	for _, c := range cs.Changes {
		r.emit(Event{Type: EventObject, Unit: name, Stage: StageRemove, Object: c.Object.ID(), Action: string(c.Action),
			Message: changeMessage(c), Err: c.Err})
	}
	if err != nil {
		return err
	}
	if ru.WaitForTermination {
		if err := waitForTermination(ctx, id, cs, ru.Timeout); err != nil {
			return err
		}
	}
	r.emit(Event{Type: EventProgress, Unit: name, Stage: StageRemove, Message: fmt.Sprintf(
		"unit removed from the configuration: %s its objects (%s)", map[apply.DeletePolicy]string{
			apply.DeleteObjects: "deleted", apply.OrphanObjects: "orphaned"}[policy], cs.Summary())})
	return nil
}

// removalOrder returns the removed units with every unit before the units
// it depended on and the unit that declared it (reverse dependency order),
// ties by name.
func removalOrder(removed map[string]recordUnit) []string {
	names := slices.Sorted(maps.Keys(removed))
	done := map[string]bool{}
	var out []string
	for len(out) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			// n may go once no remaining unit depends on it.
			blocked := false
			for _, m := range names {
				if !done[m] && m != n && (slices.Contains(removed[m].DependsOn, n) || removed[m].Parent == n) {
					blocked = true
					break
				}
			}
			if !blocked {
				done[n] = true
				out = append(out, n)
				progress = true
			}
		}
		if !progress { // a cycle in old records: the rest by name
			for _, n := range names {
				if !done[n] {
					done[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// saveRecord writes the record: every unit of the configuration plus the
// removed units not cleaned up yet.
func (r *Reconciler) saveRecord(ctx context.Context) error {
	// One write at a time, each of the state when it starts: a write
	// never replaces a newer one.
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	rec := record{Units: map[string]recordUnit{}}
	r.recMu.Lock()
	maps.Copy(rec.Units, r.dormant)
	maps.Copy(rec.Units, r.removed)
	r.recMu.Unlock()
	r.graphMu.RLock()
	for name, st := range r.units {
		rec.Units[name] = st.record()
	}
	rec.Sources = r.sourceStatuses()
	r.graphMu.RUnlock()
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: r.recordName(), Namespace: r.conf.Namespace,
			Labels: map[string]string{LabelConfiguration: r.conf.Name}},
		Data: map[string]string{recordKey: string(data)},
	}
	body, err := json.Marshal(cm)
	if err != nil {
		return err
	}
	_, err = r.cluster.Kubernetes().CoreV1().ConfigMaps(r.conf.Namespace).Patch(ctx, r.recordName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: r.fieldManager(), Force: new(true)})
	if err != nil {
		return fmt.Errorf("reconcile: write record %s/%s: %w", r.conf.Namespace, r.recordName(), err)
	}
	return nil
}

// record is what the configuration's record keeps of the unit.
func (st *unitState) record() recordUnit {
	u := st.specOf()
	s := st.status()
	helm := ""
	if u.Helm != nil {
		helm = u.Helm.Namespace + "/" + u.Helm.Name
	}
	waitForTermination := u.DeletionPolicy == DeletionWaitForTermination && u.Helm == nil
	timeout := time.Duration(0)
	if waitForTermination {
		timeout = u.Timeout
	}
	return recordUnit{Prune: u.DeletionPolicy.deletes(u.Prune), WaitForTermination: waitForTermination, Timeout: timeout,
		ServiceAccount:          u.ServiceAccountName,
		ServiceAccountNamespace: u.ServiceAccountNamespace, DependsOn: u.DependsOn, Parent: st.parent,
		FluxObject: u.FluxObject, Objects: s.Objects,
		HelmRelease: helm, Phase: s.Phase, Reason: s.Reason, Message: s.Message,
		LastAppliedRevision: s.LastAppliedRevision, LastAttemptedRevision: s.LastAttemptedRevision,
		LastReconciled: s.LastReconciled}
}

// markExisted notes that a unit applied something, so that an inventory it
// loses later is searched for.
func (r *Reconciler) markExisted(unit string) {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	if r.existed == nil {
		r.existed = map[string]bool{}
	}
	r.existed[unit] = true
}

// waitForTermination waits until the objects a removal deleted are gone,
// polling each (GET of its metadata, as the unit's identity) every second,
// within timeout (default 5 minutes).
func waitForTermination(ctx context.Context, id *identity, cs *apply.ChangeSet, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	var pending []inventory.Entry
	for _, c := range cs.Changes {
		if c.Action == apply.Deleted {
			pending = append(pending, c.Object)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var still []inventory.Entry
		for _, e := range pending {
			mapping, err := id.cluster.Mapping(e.GroupVersionKind())
			if meta.IsNoMatchError(err) {
				continue // its CRD is gone: so is the object
			}
			if err != nil {
				return false, err
			}
			_, err = id.cluster.Metadata().Resource(mapping.Resource).Namespace(e.Namespace).Get(ctx, e.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return false, err
			default:
				still = append(still, e)
			}
		}
		pending = still
		return len(pending) == 0, nil
	})
	if err != nil && len(pending) > 0 {
		return fmt.Errorf("reconcile: waiting for the termination of %d object(s), %s first: %w", len(pending), pending[0], err)
	}
	return err
}
