package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/inventory"
)

// statusStorage keeps a unit's inventory in its own status.inventory, in
// place of the Secret an inventory.Store would use. It implements
// inventory.Storage, so apply.Manager records what it applies there.
//
// The version it checks on Save is the GitOpsUnit's resourceVersion, so any
// change to the unit since Load (a spec edit, say) is a conflict: the apply
// fails with an *inventory.ConflictError and the reconcile is retried.
type statusStorage struct {
	client client.Client // writes the status subresource
	reader client.Reader // reads without the cache, so versions are current
	key    types.NamespacedName
	owner  inventory.Owner
}

var _ inventory.Storage = (*statusStorage)(nil)

// newStatusStorage returns the storage of unit. Its ApplySet ID is that of
// a GitOpsUnit parent, as kubectl computes it.
func newStatusStorage(c client.Client, r client.Reader, unit *GitOpsUnit) (*statusStorage, error) {
	owner, err := inventory.NewOwnerForParent(schema.GroupKind{Group: GroupVersion.Group, Kind: Kind}, unit.Name, unit.Namespace)
	if err != nil {
		return nil, err
	}
	return &statusStorage{client: c, reader: r, key: client.ObjectKeyFromObject(unit), owner: owner}, nil
}

// Owner returns the unit's identity.
func (s *statusStorage) Owner() inventory.Owner { return s.owner }

// Load reads the inventory from the unit's status, with the unit's
// resourceVersion.
func (s *statusStorage) Load(ctx context.Context) (inventory.Inventory, error) {
	var unit GitOpsUnit
	if err := s.reader.Get(ctx, s.key, &unit); err != nil {
		return inventory.Inventory{}, fmt.Errorf("inventory: load %s: %w", s.key, err)
	}
	inv := unit.Status.inventory()
	inv.ResourceVersion = unit.ResourceVersion
	return inv, nil
}

// Save writes status.inventory, and only that field, if the unit is still
// at inv.ResourceVersion: a merge patch carrying metadata.resourceVersion is
// refused with 409 Conflict otherwise.
func (s *statusStorage) Save(ctx context.Context, inv *inventory.Inventory) error {
	if inv.ResourceVersion == "" {
		return errors.New("inventory: save: no resourceVersion (Load first)")
	}
	inv.Sort()
	entries := make([]InventoryEntry, 0, len(inv.Entries)) // [] rather than null when empty
	for _, e := range inv.Entries {
		entries = append(entries, InventoryEntry(e))
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": inv.ResourceVersion},
		"status":   map[string]any{"inventory": entries},
	})
	if err != nil {
		return err
	}
	unit := &GitOpsUnit{}
	unit.Name, unit.Namespace = s.key.Name, s.key.Namespace
	err = s.client.Status().Patch(ctx, unit, client.RawPatch(types.MergePatchType, patch))
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return &inventory.ConflictError{Namespace: s.key.Namespace, Name: s.key.Name, Err: err}
	case err != nil:
		return fmt.Errorf("inventory: save %s: %w", s.key, err)
	}
	inv.ResourceVersion = unit.ResourceVersion
	return nil
}
