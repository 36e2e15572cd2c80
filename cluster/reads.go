package cluster

import (
	"context"
	"maps"
	"strings"
	"sync"

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
		out[name] = ObjectMeta{ResourceVersion: o.ResourceVersion, Labels: o.Labels, Annotations: ann, Deleting: o.DeletionTimestamp != nil}
	}
	return out, nil
}
