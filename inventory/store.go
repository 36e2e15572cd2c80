package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/gitopskit/gitopskit/cluster"
)

// Storage keeps a unit's inventory. [*Store] keeps it in the cluster; a
// caller that records the inventory elsewhere (for example in its own
// object's status) implements Storage itself.
type Storage interface {
	// Owner identifies the unit; its labels go on every applied object.
	Owner() Owner
	// Load returns the stored inventory, or an empty one (nil error) when
	// none is stored yet.
	Load(ctx context.Context) (Inventory, error)
	// Save stores inv if the stored inventory is still the one
	// inv.ResourceVersion names (a [*ConflictError] otherwise), and sets
	// inv.ResourceVersion to the new version.
	Save(ctx context.Context, inv *Inventory) error
}

// Deleter is implemented by a [Storage] that can remove the stored
// inventory itself (its parent object), as [*Store] does. Deleting a whole
// unit (package apply's Manager.DeleteUnit) calls it once the unit's objects
// are gone; a Storage without it keeps its record, for the caller to drop.
type Deleter interface {
	// Delete removes the stored inventory if it is still the version
	// inv.ResourceVersion names; a missing one is not an error.
	Delete(ctx context.Context, inv Inventory) error
}

var _ Deleter = (*Store)(nil)

// Committer is implemented by a [Storage] whose Save may return before the
// inventory is stored, as [*LedgerUnit]'s does for a save that adds no
// object. Package apply's Prune calls Commit before it deletes anything:
// it stores what is pending and returns a [*ConflictError] when someone
// else changed the stored inventory meanwhile.
type Committer interface {
	Commit(ctx context.Context) error
}

// ParentKind is the kind of object an inventory is stored in.
type ParentKind string

const (
	// ParentSecret stores the inventory in a Secret (the default).
	ParentSecret ParentKind = "Secret"
	// ParentConfigMap stores the inventory in a ConfigMap.
	ParentConfigMap ParentKind = "ConfigMap"
)

// maxStoredSize is the largest compressed inventory Save writes; etcd
// refuses objects above 1.5 MiB.
const maxStoredSize = 1 << 20

// StoreOptions configure a [Store].
type StoreOptions struct {
	// Name of the parent object and of the unit. Required.
	Name string
	// Namespace of the parent object. Required; it must exist.
	Namespace string
	// Kind of the parent object. Default [ParentSecret].
	Kind ParentKind
}

// Store keeps one unit's inventory in a Secret or ConfigMap, the unit's
// kubectl ApplySet parent. Its methods are safe for concurrent use.
type Store struct {
	opts   StoreOptions
	owner  Owner
	client corev1client.CoreV1Interface

	mu sync.Mutex
	// last is the inventory last loaded or saved, at its resourceVersion:
	// a Load that finds that version returns a copy instead of decoding
	// the same bytes again.
	last Inventory
}

var _ Storage = (*Store)(nil)

// NewStore returns a store for the unit opts.Name whose inventory lives in
// opts.Namespace, read and written as c's identity. It makes no request.
func NewStore(c *cluster.Cluster, opts StoreOptions) (*Store, error) {
	if c == nil {
		return nil, errors.New("inventory: nil cluster")
	}
	if opts.Kind == "" {
		opts.Kind = ParentSecret
	}
	if opts.Kind != ParentSecret && opts.Kind != ParentConfigMap {
		return nil, fmt.Errorf("inventory: parent kind %q: want Secret or ConfigMap", opts.Kind)
	}
	owner, err := NewOwner(opts.Name, opts.Namespace, opts.Kind)
	if err != nil {
		return nil, err
	}
	return &Store{opts: opts, owner: owner, client: c.Kubernetes().CoreV1()}, nil
}

// Owner returns the unit's identity.
func (s *Store) Owner() Owner { return s.owner }

// Load reads the inventory. It returns an empty inventory when the parent
// does not exist, and a [*ForeignToolError] when it exists but is not a
// gitopskit ApplySet parent for this unit.
func (s *Store) Load(ctx context.Context) (Inventory, error) {
	var (
		meta metav1.ObjectMeta
		data []byte
		err  error
	)
	if s.opts.Kind == ParentSecret {
		var sec *corev1.Secret
		if sec, err = s.client.Secrets(s.opts.Namespace).Get(ctx, s.opts.Name, metav1.GetOptions{}); err == nil {
			meta, data = sec.ObjectMeta, sec.Data[DataKey]
		}
	} else {
		var cm *corev1.ConfigMap
		if cm, err = s.client.ConfigMaps(s.opts.Namespace).Get(ctx, s.opts.Name, metav1.GetOptions{}); err == nil {
			meta, data = cm.ObjectMeta, cm.BinaryData[DataKey]
		}
	}
	if apierrors.IsNotFound(err) {
		return Inventory{}, nil
	}
	if err != nil {
		return Inventory{}, fmt.Errorf("inventory: load %s %s/%s: %w", s.opts.Kind, s.opts.Namespace, s.opts.Name, err)
	}
	return s.decode(meta, data)
}

// decode returns the inventory a parent object holds.
func (s *Store) decode(meta metav1.ObjectMeta, data []byte) (Inventory, error) {
	if err := s.checkParent(meta); err != nil {
		return Inventory{}, err
	}
	if inv, ok := s.remembered(meta.ResourceVersion); ok {
		return inv, nil
	}
	inv := Inventory{}
	if len(data) > 0 {
		var err error
		if inv, err = Unmarshal(data); err != nil {
			return Inventory{}, fmt.Errorf("inventory: load %s/%s: %w", s.opts.Namespace, s.opts.Name, err)
		}
	}
	inv.ResourceVersion = meta.ResourceVersion
	s.remember(inv)
	return inv, nil
}

// remembered returns a copy of the inventory last loaded or saved if it is
// the version rv.
func (s *Store) remembered(rv string) (Inventory, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rv == "" || s.last.ResourceVersion != rv {
		return Inventory{}, false
	}
	return Inventory{Entries: slices.Clone(s.last.Entries), ResourceVersion: rv}, true
}

// remember keeps a copy of inv, stored at inv.ResourceVersion.
func (s *Store) remember(inv Inventory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = Inventory{Entries: slices.Clone(inv.Entries), ResourceVersion: inv.ResourceVersion}
}

// checkParent refuses a parent that another tool (or no tool) manages.
func (s *Store) checkParent(meta metav1.ObjectMeta) error {
	tooling := meta.Annotations[AnnotationApplySetTooling]
	ferr := &ForeignToolError{Namespace: s.opts.Namespace, Name: s.opts.Name, Kind: string(s.opts.Kind), Tooling: tooling}
	switch tool, _, _ := strings.Cut(tooling, "/"); {
	case meta.Labels[LabelApplySetID] != s.owner.ID:
		ferr.Reason = fmt.Sprintf("label %s is %q, want %q", LabelApplySetID, meta.Labels[LabelApplySetID], s.owner.ID)
	case tool != ToolName:
		ferr.Reason = fmt.Sprintf("annotation %s is %q, want %s/<version>", AnnotationApplySetTooling, tooling, ToolName)
	default:
		return nil
	}
	return ferr
}

// Save writes inv (sorting its entries) with the ApplySet labels and
// annotations, creating the parent when inv.ResourceVersion is empty and
// updating it otherwise. A concurrent change gives a [*ConflictError].
func (s *Store) Save(ctx context.Context, inv *Inventory) error {
	inv.Sort()
	data, err := Marshal(*inv)
	if err != nil {
		return err
	}
	if len(data) > maxStoredSize {
		return fmt.Errorf("inventory: %d entries compress to %d bytes, more than the %d a parent can hold", len(inv.Entries), len(data), maxStoredSize)
	}
	labels, annotations := ParentMetadata(s.owner, *inv)
	meta := metav1.ObjectMeta{
		Name: s.opts.Name, Namespace: s.opts.Namespace, ResourceVersion: inv.ResourceVersion,
		Labels: labels, Annotations: annotations,
	}
	var rv string
	create := inv.ResourceVersion == ""
	if s.opts.Kind == ParentSecret {
		sec := &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{DataKey: data}}
		if create {
			sec, err = s.client.Secrets(s.opts.Namespace).Create(ctx, sec, metav1.CreateOptions{})
		} else {
			sec, err = s.client.Secrets(s.opts.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
		}
		if err == nil {
			rv = sec.ResourceVersion
		}
	} else {
		cm := &corev1.ConfigMap{ObjectMeta: meta, BinaryData: map[string][]byte{DataKey: data}}
		if create {
			cm, err = s.client.ConfigMaps(s.opts.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		} else {
			cm, err = s.client.ConfigMaps(s.opts.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err == nil {
			rv = cm.ResourceVersion
		}
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || (!create && apierrors.IsNotFound(err)):
		return &ConflictError{Namespace: s.opts.Namespace, Name: s.opts.Name, Err: err}
	case err != nil:
		return fmt.Errorf("inventory: save %s %s/%s: %w", s.opts.Kind, s.opts.Namespace, s.opts.Name, err)
	}
	inv.ResourceVersion = rv
	s.remember(*inv)
	return nil
}

// Delete removes the parent object (not the unit's objects) if it is still
// the version inv.ResourceVersion names. A missing parent is not an error.
func (s *Store) Delete(ctx context.Context, inv Inventory) error {
	opts := metav1.DeleteOptions{}
	if inv.ResourceVersion != "" {
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &inv.ResourceVersion}
	}
	var err error
	if s.opts.Kind == ParentSecret {
		err = s.client.Secrets(s.opts.Namespace).Delete(ctx, s.opts.Name, opts)
	} else {
		err = s.client.ConfigMaps(s.opts.Namespace).Delete(ctx, s.opts.Name, opts)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return &ConflictError{Namespace: s.opts.Namespace, Name: s.opts.Name, Err: err}
	case err != nil:
		return fmt.Errorf("inventory: delete %s %s/%s: %w", s.opts.Kind, s.opts.Namespace, s.opts.Name, err)
	}
	return nil
}
