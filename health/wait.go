package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitopskit/gitopskit/internal/object"
)

// WaitOptions configure one [Waiter.Wait].
type WaitOptions struct {
	// Timeout bounds the wait. Default 5 minutes.
	Timeout time.Duration
	// KeepWaitingOnFailure waits for Failed objects to recover instead of
	// returning as soon as one is Failed.
	KeepWaitingOnFailure bool
	// OnStatus, when set, is called each time an object's status changes
	// (for example when it becomes Current), from the goroutine that
	// observed it; it must be quick and safe for concurrent use.
	OnStatus func(ObjectStatus)
	// Watches, when set, serves the wait from watches shared with other
	// waits (one LIST and WATCH per resource, namespace and identity for
	// all of them) instead of its own.
	Watches *Watches
}

// DefaultWaitOptions returns the options Wait uses for zero fields.
func DefaultWaitOptions() WaitOptions { return WaitOptions{Timeout: 5 * time.Minute} }

// Result is the readiness of every object waited for, in the order given.
type Result struct {
	Objects []ObjectStatus
}

// Count returns the number of objects with the status.
func (r *Result) Count(s Status) int {
	n := 0
	for _, o := range r.Objects {
		if o.Status == s {
			n++
		}
	}
	return n
}

// errWaitTimeout is the cause of the context Wait times out.
var errWaitTimeout = errors.New("wait timeout")

// relistDelay is the pause before a LIST after a watch ended with an error.
const relistDelay = 200 * time.Millisecond

// Wait watches the objects until every one is Current, and returns as soon
// as that is so. It returns a [*FailedError] as soon as one object is Failed
// (unless opts.KeepWaitingOnFailure), a [*TimeoutError] listing the objects
// not Current when opts.Timeout passes, and ctx's error when ctx ends. The
// Result holds every object's last status in all cases.
//
// Only the identity of each object is used. Wait costs one LIST and one
// WATCH per resource and namespace (a field selector on the name when one
// object is watched there), never a request per object.
func (w *Waiter) Wait(ctx context.Context, objects []*unstructured.Unstructured, opts WaitOptions) (*Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWaitOptions().Timeout
	}
	res := &Result{Objects: make([]ObjectStatus, len(objects))}
	type group struct {
		gvr       schema.GroupVersionResource
		namespace string
		names     map[string]int // name -> index in res.Objects
	}
	groups := map[[2]string]*group{}
	var order [][2]string
	for i, o := range objects {
		res.Objects[i] = ObjectStatus{Object: object.KeyOf(o), Status: Unknown, Message: "not observed yet"}
		mapping, err := w.cluster.Mapping(o.GroupVersionKind())
		if err != nil {
			return res, fmt.Errorf("health: %s: %w", res.Objects[i].Object, err)
		}
		ns := o.GetNamespace()
		if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		k := [2]string{mapping.Resource.String(), ns}
		g := groups[k]
		if g == nil {
			g = &group{gvr: mapping.Resource, namespace: ns, names: map[string]int{}}
			groups[k] = g
			order = append(order, k)
		}
		g.names[o.GetName()] = i
	}
	if len(objects) == 0 {
		return res, nil
	}

	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errWaitTimeout)
	defer cancel()
	var mu sync.Mutex
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	set := func(i int, st ObjectStatus) {
		mu.Lock()
		st.Object = res.Objects[i].Object // the key as given, whatever was observed
		old := res.Objects[i]
		res.Objects[i] = st
		mu.Unlock()
		if opts.OnStatus != nil && (old.Status != st.Status || old.Message != st.Message) {
			opts.OnStatus(st)
		}
		notify()
	}
	var wg sync.WaitGroup
	for _, k := range order {
		g := groups[k]
		if opts.Watches != nil {
			stop := opts.Watches.subscribe(w, g.gvr, g.namespace, g.names, func(i int, u *unstructured.Unstructured) {
				if u == nil {
					set(i, ObjectStatus{Status: NotFound, Message: "not found"})
					return
				}
				set(i, w.checks.Status(u))
			})
			defer stop()
			continue
		}
		wg.Go(func() { w.watchGroup(ctx, g.gvr, g.namespace, g.names, set) })
	}
	defer wg.Wait()
	defer cancel()

	for {
		mu.Lock()
		snapshot := slices.Clone(res.Objects)
		mu.Unlock()
		var failed, pending []ObjectStatus
		for _, s := range snapshot {
			switch s.Status {
			case Current:
			case Failed:
				failed = append(failed, s)
				pending = append(pending, s)
			default:
				pending = append(pending, s)
			}
		}
		if len(pending) == 0 {
			return &Result{Objects: snapshot}, nil
		}
		if len(failed) > 0 && !opts.KeepWaitingOnFailure {
			return &Result{Objects: snapshot}, &FailedError{Failed: failed}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if context.Cause(ctx) == errWaitTimeout {
				return &Result{Objects: snapshot}, &TimeoutError{Timeout: opts.Timeout, Pending: pending}
			}
			return &Result{Objects: snapshot}, fmt.Errorf("health: %w", ctx.Err())
		}
	}
}

// watchGroup lists and watches one resource in one namespace, reporting the
// status of the named objects through set, until ctx ends.
func (w *Waiter) watchGroup(ctx context.Context, gvr schema.GroupVersionResource, ns string, names map[string]int,
	set func(int, ObjectStatus)) {
	client := w.dyn.Resource(gvr).Namespace(ns)
	lopts := metav1.ListOptions{}
	if len(names) == 1 {
		for name := range names {
			lopts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	report := func(u *unstructured.Unstructured) {
		if i, ok := names[u.GetName()]; ok {
			set(i, w.checks.Status(u))
		}
	}
	for ctx.Err() == nil {
		list, err := client.List(ctx, lopts)
		if err != nil {
			w.log.DebugContext(ctx, "list failed", "resource", gvr.String(), "namespace", ns, "error", err)
			sleep(ctx, relistDelay)
			continue
		}
		seen := map[string]bool{}
		for i := range list.Items {
			seen[list.Items[i].GetName()] = true
			report(&list.Items[i])
		}
		for name, i := range names {
			if !seen[name] {
				set(i, ObjectStatus{Status: NotFound, Message: "not found"})
			}
		}
		wopts := lopts
		wopts.ResourceVersion = list.GetResourceVersion()
		wopts.AllowWatchBookmarks = true
		wi, err := client.Watch(ctx, wopts)
		if err != nil {
			w.log.DebugContext(ctx, "watch failed", "resource", gvr.String(), "namespace", ns, "error", err)
			sleep(ctx, relistDelay)
			continue
		}
		w.drain(ctx, wi, names, report, set, gvr, ns)
		wi.Stop()
	}
}

// drain handles watch events until the watch ends.
func (w *Waiter) drain(ctx context.Context, wi watch.Interface, names map[string]int, report func(*unstructured.Unstructured),
	set func(int, ObjectStatus), gvr schema.GroupVersionResource, ns string) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok {
					report(u)
				}
			case watch.Deleted:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok {
					if i, ok := names[u.GetName()]; ok {
						set(i, ObjectStatus{Status: NotFound, Message: "deleted"})
					}
				}
			case watch.Error:
				w.log.DebugContext(ctx, "watch error", "resource", gvr.String(), "namespace", ns, "error", apierrors.FromObject(ev.Object))
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
