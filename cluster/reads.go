package cluster

import (
	"context"
	"hash/fnv"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectMeta is what a shared LIST keeps of an object: enough to decide
// whether it changed and who owns it, not the object.
type ObjectMeta struct {
	ResourceVersion string
	Labels          map[string]string
	// Annotations holds only the annotations whose key is in the
	// gitopskit.io domain.
	Annotations map[string]string
	// Deleting says the object has a deletionTimestamp.
	Deleting bool
	// applied are digests of the object's managedFields entries of
	// server-side apply on the main resource, by field manager.
	applied []appliedDigest
}

type appliedDigest struct {
	manager, digest string
}

// Fingerprint returns a digest of what a server-side apply by manager left
// on the object: manager's apply entry in managedFields (the fields it
// owns, their API version and the time it last changed them). It is ""
// when manager has no such entry. See [Fingerprint].
func (m ObjectMeta) Fingerprint(manager string) string {
	for _, a := range m.applied {
		if a.manager == manager {
			return a.digest
		}
	}
	return ""
}

// Fingerprint returns the fingerprint ([ObjectMeta.Fingerprint]) of an
// object with the given managedFields, for manager.
//
// Two equal fingerprints of an object mean that no write changed a field
// manager applied in between: another writer who changes such a field
// takes it over (an update) or must force (an apply), and one who removes
// it removes it from every entry; each changes manager's entry. A change of
// status, or of fields only others own (such as the Deployment
// controller's revision annotation), leaves the fingerprint as it is,
// though it changes the resourceVersion (and, for that annotation, the
// generation). A writer who rewrites managedFields by hand, entry for
// entry, can hide a change.
func Fingerprint(managed []metav1.ManagedFieldsEntry, manager string) string {
	for _, e := range managed {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			return digestOf(e)
		}
	}
	return ""
}

// digestOf digests one managedFields entry: its API version, time and
// fields.
func digestOf(e metav1.ManagedFieldsEntry) string {
	h := fnv.New64a()
	h.Write([]byte(e.APIVersion))
	h.Write([]byte{0})
	if e.Time != nil {
		h.Write([]byte(e.Time.UTC().Format(time.RFC3339)))
	}
	h.Write([]byte{0})
	_, _ = io.WriteString(h, e.FieldsV1.GetRawString()) // nil-safe
	return strconv.FormatUint(h.Sum64(), 36)
}

func appliedDigests(managed []metav1.ManagedFieldsEntry) []appliedDigest {
	var out []appliedDigest
	for _, e := range managed {
		if e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			out = append(out, appliedDigest{manager: e.Manager, digest: digestOf(e)})
		}
	}
	return out
}

// Reads shares metadata LISTs between the units of one run: the first
// caller of a (identity, resource, namespace, selector) lists, later ones
// get its answer. Keep one per run, not longer: it does not see changes made
// after its LISTs. Safe for concurrent use; the zero value is not usable,
// call [NewReads].
type Reads struct {
	mu    sync.Mutex
	lists map[readKey]*readCall
}

type readKey struct {
	identity  string
	gvr       schema.GroupVersionResource
	namespace string
	selector  string
}

type readCall struct {
	done    chan struct{}
	objects map[string]ObjectMeta
	err     error
}

// NewReads returns an empty Reads.
func NewReads() *Reads { return &Reads{lists: map[readKey]*readCall{}} }

// ListMetadata returns, by name, the objects of resource gvr in namespace
// ("" for all namespaces or a cluster-scoped resource) matching the label
// selector, listed by c's identity. A failed LIST is not remembered: the
// next caller tries again.
func (r *Reads) ListMetadata(ctx context.Context, c *Cluster, gvr schema.GroupVersionResource, namespace, selector string) (map[string]ObjectMeta, error) {
	k := readKey{identity: c.identity, gvr: gvr, namespace: namespace, selector: selector}
	r.mu.Lock()
	call, ok := r.lists[k]
	if !ok {
		call = &readCall{done: make(chan struct{})}
		r.lists[k] = call
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err == nil {
			return call.objects, nil
		}
		// The first caller failed (perhaps its context ended): list anew.
		return list(ctx, c, gvr, namespace, selector)
	}
	call.objects, call.err = list(ctx, c, gvr, namespace, selector)
	if call.err != nil {
		r.mu.Lock()
		delete(r.lists, k)
		r.mu.Unlock()
	}
	close(call.done)
	return call.objects, call.err
}

// Forget drops what Reads remembers of resource gvr in namespace, for
// every identity and selector, so that the next call lists again.
func (r *Reads) Forget(gvr schema.GroupVersionResource, namespace string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.DeleteFunc(r.lists, func(k readKey, _ *readCall) bool { return k.gvr == gvr && k.namespace == namespace })
}

// ListMetadata lists without sharing; see [Reads.ListMetadata].
func ListMetadata(ctx context.Context, c *Cluster, gvr schema.GroupVersionResource, namespace, selector string) (map[string]ObjectMeta, error) {
	return list(ctx, c, gvr, namespace, selector)
}

func list(ctx context.Context, c *Cluster, gvr schema.GroupVersionResource, namespace, selector string) (map[string]ObjectMeta, error) {
	l, err := c.meta.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	out := make(map[string]ObjectMeta, len(l.Items))
	for _, o := range l.Items {
		var ann map[string]string
		for key, v := range o.Annotations {
			if strings.HasPrefix(key, "gitopskit.io/") {
				if ann == nil {
					ann = map[string]string{}
				}
				ann[key] = v
			}
		}
		name := o.Name
		if namespace == "" && o.Namespace != "" {
			name = o.Namespace + "/" + o.Name
		}
		out[name] = ObjectMeta{ResourceVersion: o.ResourceVersion, Labels: o.Labels, Annotations: ann, Deleting: o.DeletionTimestamp != nil, applied: appliedDigests(o.ManagedFields)}
	}
	return out, nil
}
