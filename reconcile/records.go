package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/apply"
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
}

type recordUnit struct {
	Prune                 bool      `json:"prune"`
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
	cm, err := r.core.CoreV1().ConfigMaps(r.conf.Namespace).Get(ctx, r.recordName(), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reconcile: read record %s/%s: %w", r.conf.Namespace, r.recordName(), err)
	}
	r.removed = map[string]recordUnit{}
	if err == nil {
		var rec record
		if err := json.Unmarshal([]byte(cm.Data[recordKey]), &rec); err != nil {
			return nil, fmt.Errorf("reconcile: record %s/%s is corrupt: %w", r.conf.Namespace, r.recordName(), err)
		}
		for name, ru := range rec.Units {
			st, ok := r.units[name]
			if !ok {
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
	r.recLoaded = true
	return r.removed, nil
}

// removeUnits deletes (when the unit pruned) or orphans the objects of units
// that left the configuration, then their inventories. A unit whose removal
// fails stays in the record and is retried.
func (r *Reconciler) removeUnits(ctx context.Context) {
	removed, err := r.loadRecord(ctx)
	if err != nil {
		r.emit(Event{Stage: StagePrune, Message: err.Error(), Err: err})
		return
	}
	names := make([]string, 0, len(removed))
	for name := range removed {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ru := removed[name]
		policy := apply.OrphanObjects
		if ru.Prune {
			policy = apply.DeleteObjects
		}
		store, err := inventory.NewStore(r.cfg, inventory.StoreOptions{Name: r.conf.Name + "-" + name, Namespace: r.conf.Namespace})
		if err == nil {
			var m *apply.Manager
			if m, err = apply.NewManager(r.cfg, apply.ManagerOptions{FieldManager: r.fieldManager(), Logger: r.opts.Logger}); err == nil {
				var cs *apply.ChangeSet
				cs, err = m.DeleteUnit(ctx, store, apply.DeleteUnitOptions{Policy: policy, Concurrency: r.opts.Concurrency})
				if err == nil {
					r.emit(Event{Unit: name, Stage: StagePrune, Message: fmt.Sprintf(
						"unit removed from the configuration: %s its objects (%s)", map[apply.DeletePolicy]string{
							apply.DeleteObjects: "deleted", apply.OrphanObjects: "orphaned"}[policy], cs.Summary())})
				}
			}
		}
		if err != nil {
			r.emit(Event{Unit: name, Stage: StagePrune, Message: "removing the unit: " + err.Error(), Err: err})
			continue
		}
		r.recMu.Lock()
		delete(r.removed, name)
		r.recMu.Unlock()
	}
}

// saveRecord writes the record: every unit of the configuration plus the
// removed units not cleaned up yet.
func (r *Reconciler) saveRecord(ctx context.Context) error {
	rec := record{Units: map[string]recordUnit{}}
	r.recMu.Lock()
	for name, ru := range r.removed {
		rec.Units[name] = ru
	}
	r.recMu.Unlock()
	for name, st := range r.units {
		s := st.status()
		rec.Units[name] = recordUnit{Prune: st.spec.Prune, Phase: s.Phase, Reason: s.Reason, Message: s.Message,
			LastAppliedRevision: s.LastAppliedRevision, LastAttemptedRevision: s.LastAttemptedRevision,
			LastReconciled: s.LastReconciled}
	}
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
	_, err = r.core.CoreV1().ConfigMaps(r.conf.Namespace).Patch(ctx, r.recordName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: r.fieldManager(), Force: new(true)})
	if err != nil {
		return fmt.Errorf("reconcile: write record %s/%s: %w", r.conf.Namespace, r.recordName(), err)
	}
	return nil
}
