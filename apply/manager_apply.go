package apply

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// item is one desired object on its way through an apply.
type item struct {
	obj     *unstructured.Unstructured // the manifest to apply (our copy)
	entry   inventory.Entry            // identity and hash
	ignore  []string                   // ignored JSON pointers
	stage   stage
	mapping *meta.RESTMapping
	force   bool
	change  *Change
	// nsInSet: the object's namespace is a Namespace of the same set.
	nsInSet bool
}

func (it *item) resource() (ns string, gvr schema.GroupVersionResource) {
	return it.obj.GetNamespace(), it.mapping.Resource
}

// listKey identifies one LIST: a resource in a namespace ("" for
// cluster-scoped resources).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// Apply makes the cluster match objects with server-side apply and returns
// what it did. The objects are not modified.
//
// Objects are applied in stages: CRDs and Namespaces first
// (then CRDs are waited for until Established), then the other cluster-scoped
// objects, then the rest, including custom resources whose kinds only the
// first stage made known. Within a stage up to opts.Concurrency requests are
// in flight. A stage with failures stops the apply; its other objects are
// still applied.
//
// With opts.Inventory set, Apply costs one LIST per resource and namespace of
// the objects (metadata only; those of kinds the cluster already serves
// start before the objects are prepared and the inventory is loaded, and
// run meanwhile) and one request per object that changed in
// Git or in the cluster since the last apply: an object whose manifest hash
// matches the inventory, and whose live resourceVersion or fingerprint (our
// field manager's managedFields entry, see [cluster.Fingerprint]) does too,
// is reported unchanged without a request. So a change of status (or of
// fields only others own) costs nothing, while a change of a field we
// applied is put back. The inventory is saved before any object is created (listing the
// new objects) and after the apply (with their hashes and resourceVersions).
//
// When no inventory is stored (a first apply, or an inventory that was
// deleted), Apply first looks for objects the unit applied before: one
// label-selected metadata LIST per listable resource across the cluster (in
// the objects' namespaces for a caller that may not list cluster-wide),
// keeping only objects whose ownership label our field manager applied
// (labels copied by someone else do not count). What it finds and no longer
// wants becomes stale, so Prune deletes it.
//
// When objects fail, Apply returns the change set and an [*Error] listing
// them. Prune only after an Apply without error: see [Manager.Prune].
func (m *Manager) Apply(ctx context.Context, objects []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	opts = opts.withDefaults()
	definedHere := crdScopes(objects)
	var definedBefore map[schema.GroupKind]bool
	if opts.DryRun {
		definedBefore = crdScopes(opts.Preceding)
		for gk, namespaced := range definedBefore {
			if _, ok := definedHere[gk]; !ok {
				definedHere[gk] = namespaced
			}
		}
	}
	if opts.Inventory != nil {
		// The LISTs of the kinds the cluster already serves start now,
		// while the objects are prepared and the inventory is loaded.
		pf := m.prefetch(ctx, objects, definedHere, opts)
		defer pf.wait()
		opts.prefetched = pf
	}
	items, err := m.prepare(objects, definedHere, opts)
	if err != nil {
		return nil, err
	}
	setNamespaces := map[string]bool{}
	for _, it := range items {
		if it.entry.Group == "" && it.entry.Kind == "Namespace" {
			setNamespaces[it.entry.Name] = true
		}
	}
	if opts.DryRun {
		for _, o := range opts.Preceding {
			if o != nil && o.GroupVersionKind().GroupKind() == (schema.GroupKind{Kind: "Namespace"}) {
				setNamespaces[o.GetName()] = true
			}
		}
	}
	for _, it := range items {
		it.nsInSet = it.entry.Namespace != "" && setNamespaces[it.entry.Namespace]
	}
	cs := &ChangeSet{DryRun: opts.DryRun, storage: opts.Inventory, Changes: make([]Change, len(items))}
	for i, it := range items {
		cs.Changes[i] = Change{Object: it.entry}
		it.change = &cs.Changes[i]
	}

	var prev inventory.Inventory
	store := opts.Inventory
	if store != nil {
		if prev, err = store.Load(ctx); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	stored := prev // what the inventory holds now
	if store != nil && len(prev.Entries) == 0 && prev.ResourceVersion == "" {
		// Nothing stored: a first apply, or a lost inventory. What the
		// unit applied before, so that what left Git meanwhile is pruned.
		// (An inventory stored empty is a unit that applied nothing: a
		// Flux bootstrap's root, whose build is all Flux objects.)
		switch {
		case opts.Recover != nil:
			found, err := opts.Recover(ctx)
			if err != nil {
				return nil, fmt.Errorf("apply: recover a lost inventory: %w", err)
			}
			prev.Entries = slices.Clone(found)
		case opts.LostInventory == SearchIfEmpty:
			found, err := m.FindOwned(ctx, []inventory.Owner{store.Owner()},
				FindOwnedOptions{Namespaces: searchNamespaces(items), Concurrency: opts.Concurrency})
			if err != nil {
				m.log.DebugContext(ctx, "search for the objects of a lost inventory incomplete", "error", err)
			}
			prev.Entries = found[store.Owner().ID]
		}
	}
	if store != nil && !opts.DryRun {
		if stored, err = writeAhead(ctx, store, stored, prev, items); err != nil {
			return nil, fmt.Errorf("apply: record new objects before applying them: %w", err)
		}
	}
	prevIdx := prev.Index()

	failed := false
	for st := range numStages {
		var batch []*item
		for _, it := range items {
			if it.stage == st {
				batch = append(batch, it)
			}
		}
		if len(batch) == 0 {
			continue
		}
		if failed {
			for _, it := range batch {
				it.change.Action, it.change.Reason = Skipped, "not applied: an earlier stage failed"
			}
			continue
		}
		t0 := time.Now()
		m.applyStage(ctx, batch, prevIdx, definedHere, opts)
		m.log.DebugContext(ctx, "stage applied", "stage", st.String(), "objects", len(batch), "duration", time.Since(t0))
		for _, it := range batch {
			if it.change.Action == Failed {
				failed = true
			}
		}
		if st == stageDefinitions && !failed && !opts.DryRun {
			if m.waitCRDs(ctx, batch, opts) {
				failed = true
			}
		}
	}

	// The inventory after the apply: the desired objects with what the
	// server returned, and the stale objects until Prune deletes them.
	next := inventory.Inventory{ResourceVersion: stored.ResourceVersion}
	for _, it := range items {
		e := it.change.Object
		var ownErr *OwnershipError
		switch {
		case it.change.Action == Failed && errors.As(it.change.Err, &ownErr):
			if p, ok := prevIdx[e.ID()]; ok {
				next.Entries = append(next.Entries, p)
			}
			continue
		case it.change.Action == Failed || it.change.Action == Skipped:
			// Not applied now: keep what the inventory knew, so that the
			// fast path never trusts a manifest we did not apply.
			if p, ok := prevIdx[e.ID()]; ok {
				e.Hash, e.ResourceVersion, e.Fingerprint = p.Hash, p.ResourceVersion, p.Fingerprint
			} else {
				e.Hash, e.ResourceVersion, e.Fingerprint = "", "", ""
			}
		}
		next.Entries = append(next.Entries, e)
	}
	cur := inventory.Inventory{Entries: next.Entries}
	cs.stale = inventory.Diff(prev, cur)
	cs.owned = len(prev.Entries)
	next.Entries = append(next.Entries, cs.stale...)
	next.Sort()
	if store != nil && !opts.DryRun {
		stored.Sort()
		// Saved when it changed, and when none is stored yet, so that a
		// unit that applies nothing has an inventory (stored empty) and is
		// not searched for as a lost one next time.
		if !inventory.Equal(stored, next) || stored.ResourceVersion == "" {
			if err := saveMerging(ctx, store, &next); err != nil {
				cs.next = next
				return cs, fmt.Errorf("apply: save inventory: %w", err)
			}
		}
	}
	cs.next = next
	if failures := cs.Failures(); len(failures) > 0 {
		return cs, &Error{Failed: failures}
	}
	cs.applied = !opts.DryRun
	return cs, nil
}

// saveMerging saves next. When someone else saved the inventory since we
// loaded it (another reconciler of the same unit, say one a revision behind
// or ahead), it reloads the stored inventory and saves the union, ours
// winning for objects both list, so that neither apply forgets an object it
// created; it still returns the conflict (a *inventory.ConflictError), so
// that the caller neither prunes on its outdated view nor reports success.
// Objects only the other apply listed stay in; the next reconcile prunes
// them if they left Git.
func saveMerging(ctx context.Context, store inventory.Storage, next *inventory.Inventory) error {
	conflict := store.Save(ctx, next)
	if !errors.Is(conflict, inventory.ErrConflict) {
		return conflict
	}
	for range 3 {
		latest, err := store.Load(ctx)
		if err != nil {
			return errors.Join(conflict, err)
		}
		ours := next.Index()
		merged := inventory.Inventory{Entries: slices.Clone(next.Entries), ResourceVersion: latest.ResourceVersion}
		for _, e := range latest.Entries {
			if _, ok := ours[e.ID()]; !ok {
				merged.Entries = append(merged.Entries, e)
			}
		}
		merged.Sort()
		err = store.Save(ctx, &merged)
		if err == nil {
			*next = merged
			return fmt.Errorf("%w (saved the union of both inventories, so no object is forgotten)", conflict)
		}
		if !errors.Is(err, inventory.ErrConflict) {
			return errors.Join(conflict, err)
		}
	}
	return conflict
}

// writeAhead saves prev plus the objects it does not list yet (without hash
// or resourceVersion), so that a crash during the apply cannot leave an
// object we created outside the inventory, and returns what is stored. It
// writes nothing when stored already lists all of them.
func writeAhead(ctx context.Context, store inventory.Storage, stored, prev inventory.Inventory, items []*item) (inventory.Inventory, error) {
	idx := prev.Index()
	planned := inventory.Inventory{Entries: slices.Clone(prev.Entries), ResourceVersion: stored.ResourceVersion}
	for _, it := range items {
		if _, ok := idx[it.entry.ID()]; !ok {
			e := it.entry
			e.Hash, e.ResourceVersion = "", ""
			planned.Entries = append(planned.Entries, e)
		}
	}
	if len(planned.Entries) == len(stored.Entries) {
		return stored, nil
	}
	planned.Sort()
	if err := store.Save(ctx, &planned); err != nil {
		return stored, err
	}
	return planned, nil
}

// prepare validates and copies the objects, adds the ownership labels,
// removes ignored fields and computes the hashes.
func (m *Manager) prepare(objects []*unstructured.Unstructured, definedHere map[schema.GroupKind]bool, opts ApplyOptions) ([]*item, error) {
	var owner inventory.Owner
	var ownerLabels map[string]string
	if opts.Inventory != nil {
		owner = opts.Inventory.Owner()
		ownerLabels = owner.Labels()
	}
	seen := make(map[inventory.ID]bool, len(objects))
	items := make([]*item, 0, len(objects))
	var hasher manifestHasher
	for i, o := range objects {
		if o == nil {
			return nil, fmt.Errorf("apply: object %d is nil", i)
		}
		gvk := o.GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" || o.GetName() == "" {
			return nil, fmt.Errorf("apply: object %d (%s %q) needs apiVersion, kind and metadata.name", i, gvk, o.GetName())
		}
		obj := editableCopy(o, len(opts.Ignore) > 0)
		if opts.DefaultNamespace != "" && obj.GetNamespace() == "" && m.namespaced(gvk, definedHere) {
			obj.SetNamespace(opts.DefaultNamespace)
		}
		it := &item{obj: obj, entry: inventory.EntryFor(obj)}
		if seen[it.entry.ID()] {
			return nil, fmt.Errorf("apply: %s is in the set twice", it.entry)
		}
		seen[it.entry.ID()] = true
		if err := secretStringData(obj); err != nil {
			return nil, fmt.Errorf("apply: %s: %w", it.entry, err)
		}
		unstructured.RemoveNestedField(obj.Object, "status")
		unstructured.RemoveNestedField(obj.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
		if opts.Inventory != nil {
			addLabels(obj, ownerLabels)
		}
		var err error
		if it.ignore, err = ignoredPaths(opts.Ignore, obj); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		for _, p := range it.ignore {
			if err := removePointer(obj.Object, p); err != nil {
				return nil, fmt.Errorf("apply: %w", err)
			}
		}
		if it.entry.Hash, err = hasher.hash(obj, m.opts.FieldManager); err != nil {
			return nil, fmt.Errorf("apply: hash %s: %w", it.entry, err)
		}
		it.force = opts.Force || obj.GetAnnotations()[AnnotationForce] == Enabled
		it.stage = stageOf(gvk, m.cluster.KnownMapping)
		items = append(items, it)
	}
	return items, nil
}

// editableCopy returns a copy of o that prepare may edit without changing
// o: the top level, metadata and labels are copied, the rest is shared, as
// nothing after prepare writes into an object (the build cache hands the same
// objects to every apply). With deep, for ignore rules that remove nested
// fields, all of it is copied.
func editableCopy(o *unstructured.Unstructured, deep bool) *unstructured.Unstructured {
	if deep {
		return o.DeepCopy()
	}
	obj := maps.Clone(o.Object)
	if md, ok := obj["metadata"].(map[string]any); ok {
		md = maps.Clone(md)
		if l, ok := md["labels"].(map[string]any); ok {
			md["labels"] = maps.Clone(l)
		}
		obj["metadata"] = md
	}
	return &unstructured.Unstructured{Object: obj}
}

// applyStage applies one stage's objects.
func (m *Manager) applyStage(ctx context.Context, batch []*item, prev map[inventory.ID]inventory.Entry,
	definedHere map[schema.GroupKind]bool, opts ApplyOptions) {
	var ready []*item
	for _, it := range batch {
		mapping, err := m.cluster.Mapping(it.obj.GroupVersionKind())
		_, defined := definedHere[it.obj.GroupVersionKind().GroupKind()]
		if err != nil && opts.DryRun && meta.IsNoMatchError(err) && defined {
			// A dry run creates no CRD, so its kinds stay unknown.
			it.change.Action, it.change.Reason = Created, "would be created once its CRD (in this set, or created before it) is"
			continue
		}
		if err != nil {
			if meta.IsNoMatchError(err) {
				err = fmt.Errorf("%w: %w", ErrUnknownKind, err)
			}
			fail(it, err)
			continue
		}
		it.mapping = mapping
		namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
		switch {
		case namespaced && it.obj.GetNamespace() == "":
			fail(it, fmt.Errorf("%s is namespaced but has no namespace", it.entry))
		case !namespaced && it.obj.GetNamespace() != "":
			fail(it, fmt.Errorf("%s is cluster-scoped but has namespace %q", it.entry, it.obj.GetNamespace()))
		default:
			ready = append(ready, it)
		}
	}

	var live map[listKey]map[string]cluster.ObjectMeta
	exhaustive := false
	if opts.Inventory != nil {
		live, exhaustive = m.listLive(ctx, ready, opts)
	}

	var todo []*item
	owner := inventory.Owner{}
	if opts.Inventory != nil {
		owner = opts.Inventory.Owner()
	}
	for _, it := range ready {
		ns, gvr := it.resource()
		lm, listed := live[listKey{gvr, ns}][it.obj.GetName()]
		c := it.change
		switch {
		case it.obj.GetAnnotations()[AnnotationReconcile] == Disabled || (listed && lm.Annotations[AnnotationReconcile] == Disabled):
			c.Action, c.Reason = Skipped, "reconcile disabled by annotation"
			c.Object.ResourceVersion = lm.ResourceVersion
			continue
		}
		if listed {
			if other, ok := owner.OwnedByOther(lm.Labels); ok && opts.Policy != AdoptAll {
				fail(it, &OwnershipError{Object: it.entry, Owner: other, Policy: opts.Policy})
				continue
			}
			if opts.Policy == MustMatch && !owner.Owns(lm.Labels) {
				fail(it, &OwnershipError{Object: it.entry, Policy: opts.Policy})
				continue
			}
			if p, ok := prev[it.entry.ID()]; ok && p.Hash == it.entry.Hash && p.Version == it.entry.Version &&
				owner.Owns(lm.Labels) && !lm.Deleting {
				switch {
				case p.ResourceVersion == lm.ResourceVersion:
					c.Action, c.Reason = Unchanged, "manifest hash and resourceVersion match the inventory"
				case p.Fingerprint != "" && p.Fingerprint == lm.Fingerprint(m.opts.FieldManager):
					// Only the status (or fields of others) changed since
					// the apply: what the inventory records stays, so
					// that it need not be saved again.
					c.Action, c.Reason = Unchanged, "manifest hash and applied fields match the inventory"
				}
				if c.Action == Unchanged {
					c.Object.ResourceVersion, c.Object.Fingerprint = p.ResourceVersion, p.Fingerprint
					continue
				}
			}
		}
		if it.obj.GetAnnotations()[AnnotationCreateOnly] == Enabled {
			exists, rv := listed, lm.ResourceVersion
			if !listed && !exhaustive {
				pm, err := m.meta.Resource(gvr).Namespace(ns).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
				switch {
				case apierrors.IsNotFound(err):
				case err != nil:
					fail(it, fmt.Errorf("get %s: %w", it.entry, err))
					continue
				default:
					exists, rv = true, pm.ResourceVersion
				}
			}
			if exists {
				c.Action, c.Reason = Skipped, "create-only object exists"
				c.Object.ResourceVersion = rv
				continue
			}
		}
		todo = append(todo, it)
	}

	forEach(ctx, len(todo), opts.Concurrency, func(ctx context.Context, i int) {
		it := todo[i]
		ns, gvr := it.resource()
		lm, listed := live[listKey{gvr, ns}][it.obj.GetName()]
		before := ""
		if listed {
			before = lm.ResourceVersion
		}
		m.applyOne(ctx, it, before, opts)
	})
}

func fail(it *item, err error) {
	it.change.Action, it.change.Err = Failed, err
}

// listLive lists, metadata only, the objects of each (resource, namespace)
// of the batch that may matter: under AdoptAll ours only, otherwise every
// object of some ApplySet (to refuse other units' objects), and under
// MustMatch every object (to refuse objects of no unit). exhaustive says
// that an object missing from the lists does not exist. A LIST that fails
// only costs the fast path for its objects.
func (m *Manager) listLive(ctx context.Context, batch []*item, opts ApplyOptions) (map[listKey]map[string]cluster.ObjectMeta, bool) {
	var keys []listKey
	seen := map[listKey]bool{}
	for _, it := range batch {
		ns, gvr := it.resource()
		k := listKey{gvr, ns}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sel := listSelector(opts)
	out := make(map[listKey]map[string]cluster.ObjectMeta, len(keys))
	allOK := true
	if pf := opts.prefetched; pf != nil {
		got := pf.take(keys, sel)
		maps.Copy(out, got)
		keys = slices.DeleteFunc(keys, func(k listKey) bool { _, done := got[k]; return done })
	}
	var mu sync.Mutex
	forEach(ctx, len(keys), opts.Concurrency, func(ctx context.Context, i int) {
		k := keys[i]
		objs, err := m.listOne(ctx, k, sel, opts)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			allOK = false
			m.log.DebugContext(ctx, "list failed; applying its objects", "resource", k.gvr.String(), "namespace", k.namespace, "error", err)
			return
		}
		out[k] = objs
	})
	return out, opts.Policy == MustMatch && allOK
}

// addLabels sets labels on obj, a copy the caller owns, in its own label
// map (GetLabels and SetLabels would convert it twice).
func addLabels(obj *unstructured.Unstructured, labels map[string]string) {
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		md = map[string]any{}
		obj.Object["metadata"] = md
	}
	l, ok := md["labels"].(map[string]any)
	if !ok {
		if md["labels"] != nil { // not a map: as SetLabels would, replace it
			delete(md, "labels")
		}
		l = make(map[string]any, len(labels))
		md["labels"] = l
	}
	for k, v := range labels {
		l[k] = v
	}
}

// listOne lists the metadata of one resource in one namespace, through the
// round's shared reads when the caller passed them.
func (m *Manager) listOne(ctx context.Context, k listKey, sel string, opts ApplyOptions) (map[string]cluster.ObjectMeta, error) {
	if opts.Reads != nil {
		return opts.Reads.ListMetadata(ctx, m.cluster, k.gvr, k.namespace, sel)
	}
	return cluster.ListMetadata(ctx, m.cluster, k.gvr, k.namespace, sel)
}

// listSelector is the label selector of the LISTs that show which objects
// exist: the unit's own objects when it adopts nothing else, every object
// for MustMatch, and otherwise every object some unit owns.
func listSelector(opts ApplyOptions) string {
	switch opts.Policy {
	case AdoptAll:
		return labels.SelectorFromSet(labels.Set{inventory.LabelApplySetPartOf: opts.Inventory.Owner().ID}).String()
	case MustMatch:
		return ""
	default:
		req, _ := labels.NewRequirement(inventory.LabelApplySetPartOf, selection.Exists, nil)
		return labels.NewSelector().Add(*req).String()
	}
}

// prefetched holds the LISTs an Apply started before preparing its
// objects.
type prefetched struct {
	sel  string
	done chan struct{}
	mu   sync.Mutex
	out  map[listKey]map[string]cluster.ObjectMeta
}

// prefetch starts the LISTs of the objects' resources that the cluster
// serves already (without asking discovery), in their namespaces.
func (m *Manager) prefetch(ctx context.Context, objects []*unstructured.Unstructured, definedHere map[schema.GroupKind]bool, opts ApplyOptions) *prefetched {
	pf := &prefetched{sel: listSelector(opts), done: make(chan struct{}), out: map[listKey]map[string]cluster.ObjectMeta{}}
	seen := map[listKey]bool{}
	var keys []listKey
	for _, o := range objects {
		if o == nil {
			continue
		}
		gvk := o.GroupVersionKind()
		if _, ok := definedHere[gvk.GroupKind()]; ok {
			continue // its CRD may change in this apply
		}
		mapping, ok := m.cluster.KnownMapping(gvk)
		if !ok {
			continue
		}
		ns := ""
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if ns = o.GetNamespace(); ns == "" {
				ns = opts.DefaultNamespace
			}
		}
		k := listKey{mapping.Resource, ns}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	go func() {
		defer close(pf.done)
		forEach(ctx, len(keys), opts.Concurrency, func(ctx context.Context, i int) {
			k := keys[i]
			objs, err := m.listOne(ctx, k, pf.sel, opts)
			if err != nil {
				return // listed again when the stage needs it
			}
			pf.mu.Lock()
			pf.out[k] = objs
			pf.mu.Unlock()
		})
	}()
	return pf
}

func (pf *prefetched) wait() { <-pf.done }

// take waits for the prefetch and returns the LISTs of keys it made with
// selector sel (a failed one is missing: the stage lists it again).
func (pf *prefetched) take(keys []listKey, sel string) map[listKey]map[string]cluster.ObjectMeta {
	pf.wait()
	if sel != pf.sel {
		return nil
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	out := map[listKey]map[string]cluster.ObjectMeta{}
	for _, k := range keys {
		if objs, ok := pf.out[k]; ok {
			out[k] = objs
		}
	}
	return out
}

// applyOne applies one object and records the outcome. before is the
// object's resourceVersion when a LIST showed it. The server's answer says
// whether the object was created (201); otherwise an unchanged
// resourceVersion says the apply changed nothing.
func (m *Manager) applyOne(ctx context.Context, it *item, before string, opts ApplyOptions) {
	c := it.change
	ns, gvr := it.resource()
	client := m.dyn.Resource(gvr).Namespace(ns)
	var live *unstructured.Unstructured
	if opts.DryRun || opts.ReportDrift {
		got, err := client.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			fail(it, fmt.Errorf("get %s: %w", it.entry, err))
			return
		default:
			live, before = got, got.GetResourceVersion()
		}
	}
	res, created, err := m.serverSideApply(ctx, gvr, it.obj, it.force, opts.DryRun)
	if opts.DryRun && it.nsInSet && apierrors.IsNotFound(err) {
		// A dry run creates no Namespace, so objects in one the set
		// creates cannot be dry-run applied: they would be created.
		c.Action, c.Reason = Created, "would be created with its namespace (in this set, or created before it)"
		return
	}
	takenOver := ""
	if conflicts := fieldConflicts(err); len(conflicts) > 0 && opts.TakeOverConflicts && !it.force {
		res, created, err = m.serverSideApply(ctx, gvr, it.obj, true, opts.DryRun)
		reason := ReasonTookOver
		if opts.DryRun {
			reason = ReasonWouldTakeOver
		}
		takenOver = reason + ": " + strings.Join(conflicts, "; ")
	}
	recreated := false
	if err != nil {
		if fields := immutableFields(err); len(fields) > 0 {
			if !it.force {
				fail(it, &ImmutableFieldError{Object: it.entry, Fields: fields, Err: err})
				return
			}
			if opts.DryRun {
				c.Action, c.Reason = Configured, "would be recreated: immutable field(s) "+strings.Join(fields, ", ")
				return
			}
			if res, err = m.recreate(ctx, it, opts); err != nil {
				fail(it, fmt.Errorf("recreate %s (immutable field(s) %s): %w", it.entry, strings.Join(fields, ", "), err))
				return
			}
			recreated = true
			c.Reason = "recreated: immutable field(s) " + strings.Join(fields, ", ") + " changed"
		} else if conflicts := fieldConflicts(err); len(conflicts) > 0 {
			fail(it, &FieldConflictError{Object: it.entry, Conflicts: conflicts, Err: err})
			return
		} else {
			fail(it, fmt.Errorf("apply %s: %w", it.entry, err))
			return
		}
	}
	if !opts.DryRun {
		c.Object.ResourceVersion = res.GetResourceVersion()
		c.Object.Fingerprint = cluster.Fingerprint(res.GetManagedFields(), m.opts.FieldManager)
	}
	if ts := res.GetDeletionTimestamp(); ts != nil {
		fail(it, fmt.Errorf("%w: %s since %s (finalizers %v); it is applied again once it is gone",
			ErrBeingDeleted, it.entry, ts.UTC().Format(time.RFC3339), res.GetFinalizers()))
		return
	}
	switch {
	case recreated:
		c.Action = Configured
	case opts.DryRun && (live == nil || created):
		c.Action, c.Reason = Created, "would be created"
	case opts.DryRun:
		c.Drift = Drift(live, res, it.ignore...)
		if len(c.Drift) == 0 {
			c.Action, c.Reason = Unchanged, "dry run shows no change"
		} else {
			c.Action, c.Reason = Configured, fmt.Sprintf("would change %d field(s)", len(c.Drift))
		}
	case created:
		c.Action, c.Reason = Created, "applied"
	case before == "" && opts.Inventory == nil:
		// Nothing was listed: whether the apply changed anything is unknown.
		c.Action, c.Reason = Configured, "applied"
	case before == "":
		c.Action, c.Reason = Configured, "applied (adopted)"
	case res.GetResourceVersion() == before:
		c.Action, c.Reason = Unchanged, "server-side apply changed nothing"
	default:
		c.Action, c.Reason = Configured, "applied"
	}
	if takenOver != "" {
		c.Reason = takenOver
	}
	if live != nil && !opts.DryRun && opts.ReportDrift {
		c.Drift = Drift(live, res, it.ignore...)
	}
}

// immutableFields returns the fields an Invalid error says are immutable.
func immutableFields(err error) []string {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) {
		return nil
	}
	var fields []string
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if strings.Contains(c.Message, "immutable") {
				fields = append(fields, c.Field)
			}
		}
	}
	if len(fields) == 0 && strings.Contains(err.Error(), "field is immutable") {
		fields = append(fields, "(unnamed)")
	}
	return fields
}

// fieldConflicts returns the conflicts a server-side apply Conflict error
// lists.
func fieldConflicts(err error) []string {
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) {
		return nil
	}
	var out []string
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Type == metav1.CauseTypeFieldManagerConflict {
				out = append(out, c.Message+": "+c.Field)
			}
		}
	}
	return out
}

// recreate deletes the object, waits until it is gone and applies it again.
func (m *Manager) recreate(ctx context.Context, it *item, opts ApplyOptions) (*unstructured.Unstructured, error) {
	ns, gvr := it.resource()
	client := m.dyn.Resource(gvr).Namespace(ns)
	bg := metav1.DeletePropagationBackground
	if err := client.Delete(ctx, it.obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("delete: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	for {
		_, err := m.meta.Resource(gvr).Namespace(ns).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the old object to be gone: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	res, _, err := m.serverSideApply(ctx, gvr, it.obj, true, false)
	return res, err
}

// secretStringData moves a core Secret's stringData into data (base64), as
// the API server would: server-side apply does not see a change written
// through stringData, and the drift report compares data.
func secretStringData(obj *unstructured.Unstructured) error {
	if gvk := obj.GroupVersionKind(); gvk.Group != "" || gvk.Kind != "Secret" {
		return nil
	}
	sd, found, err := unstructured.NestedStringMap(obj.Object, "stringData")
	if err != nil || !found {
		return err
	}
	data, _, err := unstructured.NestedMap(obj.Object, "data")
	if err != nil {
		return err
	}
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	unstructured.RemoveNestedField(obj.Object, "stringData")
	return unstructured.SetNestedMap(obj.Object, data, "data")
}

// namespaced reports whether objects of gvk are namespaced: from the CRDs
// of the set (definedHere, see crdScopes), else from discovery. An unknown
// kind counts as cluster-scoped here; the apply then reports it unknown.
func (m *Manager) namespaced(gvk schema.GroupVersionKind, definedHere map[schema.GroupKind]bool) bool {
	if ns, ok := definedHere[gvk.GroupKind()]; ok {
		return ns
	}
	mapping, err := m.cluster.Mapping(gvk)
	return err == nil && mapping.Scope.Name() == meta.RESTScopeNameNamespace
}

// crdScopes returns the kinds the CRDs among objects define (the keys), and
// whether each is namespaced (the values).
func crdScopes(objects []*unstructured.Unstructured) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, o := range objects {
		if o == nil || o.GroupVersionKind().GroupKind() != crdGK {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		out[schema.GroupKind{Group: group, Kind: kind}] = scope == "Namespaced"
	}
	return out
}
