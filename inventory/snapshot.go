package inventory

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/cluster"
)

// snapshotPageSize is how many parents one LIST request of a snapshot asks
// for.
const snapshotPageSize = 500

// Snapshot holds the inventories stored in one namespace, read with one
// LIST (one per 500 parents), so that many units load their inventories
// without a request each ([Store.LoadFrom]). It lists the ApplySet parents,
// the objects labelled [LabelApplySetID].
//
// A snapshot is a copy of one moment: a unit that loads from it an
// inventory saved since gets a [*ConflictError] from its next Save, as with
// any concurrent change, and an object of a parent's name that is not an
// ApplySet parent is missing from it, so a Save that would create the
// parent gets a [*ConflictError] too. Neither loses an entry.
type Snapshot struct {
	namespace string
	kind      ParentKind
	parents   map[string]storedParent
}

type storedParent struct {
	meta metav1.ObjectMeta
	data []byte
}

// ReadSnapshot lists the ApplySet parents of kind (default [ParentSecret])
// in namespace, as c's identity.
func ReadSnapshot(ctx context.Context, c *cluster.Cluster, namespace string, kind ParentKind) (*Snapshot, error) {
	if c == nil {
		return nil, errors.New("inventory: nil cluster")
	}
	if kind == "" {
		kind = ParentSecret
	}
	snap := &Snapshot{namespace: namespace, kind: kind, parents: map[string]storedParent{}}
	core := c.Kubernetes().CoreV1()
	opts := metav1.ListOptions{LabelSelector: LabelApplySetID, Limit: snapshotPageSize}
	for {
		var cont string
		switch kind {
		case ParentSecret:
			list, err := core.Secrets(namespace).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("inventory: list the inventories in %s: %w", namespace, err)
			}
			for _, s := range list.Items {
				snap.parents[s.Name] = storedParent{meta: s.ObjectMeta, data: s.Data[DataKey]}
			}
			cont = list.Continue
		case ParentConfigMap:
			list, err := core.ConfigMaps(namespace).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("inventory: list the inventories in %s: %w", namespace, err)
			}
			for _, cm := range list.Items {
				snap.parents[cm.Name] = storedParent{meta: cm.ObjectMeta, data: cm.BinaryData[DataKey]}
			}
			cont = list.Continue
		default:
			return nil, fmt.Errorf("inventory: parent kind %q: want Secret or ConfigMap", kind)
		}
		if cont == "" {
			return snap, nil
		}
		opts.Continue = cont
	}
}

// Len returns the number of parents in the snapshot.
func (s *Snapshot) Len() int { return len(s.parents) }

// LoadFrom returns what [Store.Load] would have returned when snap was
// taken, without a request. With a nil snap, or one of another namespace
// or kind, it calls Load.
func (s *Store) LoadFrom(ctx context.Context, snap *Snapshot) (Inventory, error) {
	if snap == nil || snap.namespace != s.opts.Namespace || snap.kind != s.opts.Kind {
		return s.Load(ctx)
	}
	p, ok := snap.parents[s.opts.Name]
	if !ok {
		return Inventory{}, nil
	}
	return s.decode(p.meta, p.data)
}
