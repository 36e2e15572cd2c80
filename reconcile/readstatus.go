package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/cluster"
)

// ReadStatus returns the last recorded compliance state of the
// configuration name whose records live in namespace, as the last
// [Reconciler.Run], [Reconciler.Start] round or removal saved it in the
// configuration's record (the ConfigMap "<name>-status"). It needs no
// Configuration and changes nothing: one GET, for tools that report on a
// configuration another process reconciles (a CLI, a dashboard, a CI
// gate).
//
// The units come in dependency order (each after the units it depends on,
// ties by name). Per unit the record holds the phase, reason, message,
// dependencies, the last applied and attempted revisions and when it was
// last reconciled; it does not hold object counts, so [UnitStatus.Objects],
// [UnitStatus.Counts] and [UnitStatus.Duration] are zero. A unit that left
// the configuration stays in the record, with its last status, until its
// removal succeeds. [Status.Sources] hold each source's last fetch as of
// the record's last write.
//
// A configuration with no record (never reconciled, or a wrong name or
// namespace) is an error wrapping [ErrNotFound]; a record that cannot be
// decoded is an error too, never an empty Status.
func ReadStatus(ctx context.Context, c *cluster.Cluster, namespace, name string) (Status, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	recName := name + "-status"
	cm, err := c.Kubernetes().CoreV1().ConfigMaps(namespace).Get(ctx, recName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Status{}, fmt.Errorf("reconcile: configuration %s: no record %s/%s: %w", name, namespace, recName, ErrNotFound)
	}
	if err != nil {
		return Status{}, fmt.Errorf("reconcile: read record %s/%s: %w", namespace, recName, err)
	}
	data, ok := cm.Data[recordKey]
	if !ok {
		return Status{}, fmt.Errorf("reconcile: record %s/%s has no %s", namespace, recName, recordKey)
	}
	var rec record
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		return Status{}, fmt.Errorf("reconcile: record %s/%s is corrupt: %w", namespace, recName, err)
	}
	var s Status
	for _, n := range recordOrder(rec.Units) {
		ru := rec.Units[n]
		s.Units = append(s.Units, UnitStatus{Name: n, Phase: ru.Phase, Reason: ru.Reason, Message: ru.Message,
			DependsOn: slices.Clone(ru.DependsOn), DeclaredBy: ru.Parent, FluxObject: ru.FluxObject, Objects: ru.Objects, LastAppliedRevision: ru.LastAppliedRevision,
			LastAttemptedRevision: ru.LastAttemptedRevision, LastReconciled: ru.LastReconciled})
	}
	s.Sources = rec.Sources
	return s, nil
}

// recordOrder returns the units with every unit after the units it depends
// on that are in the record, ties by name; a cycle (only possible in a
// record written by hand) puts the rest by name.
func recordOrder(units map[string]recordUnit) []string {
	order := removalOrder(units) // dependents first
	slices.Reverse(order)
	// removalOrder breaks ties by name in its own direction; rebuild the
	// order level by level so that ties read by name here too.
	level := map[string]int{}
	for _, n := range order {
		for _, d := range append(slices.Clone(units[n].DependsOn), units[n].Parent) {
			if _, ok := units[d]; ok && level[d]+1 > level[n] {
				level[n] = level[d] + 1
			}
		}
	}
	names := slices.Sorted(maps.Keys(units))
	slices.SortStableFunc(names, func(a, b string) int { return level[a] - level[b] })
	return names
}
