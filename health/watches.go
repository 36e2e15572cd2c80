package health

import (
	"context"
	"log/slog"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// WatchesOptions configure [NewWatches].
type WatchesOptions struct {
	// LabelSelector limits what the shared LISTs and WATCHes see, for
	// example to the members of some ApplySet; objects outside it are
	// reported not found. Default: everything.
	LabelSelector string
	// Logger receives debug lines. Default: none.
	Logger *slog.Logger
}

// Watches shares LIST+WATCH streams between concurrent waits: every
// [Waiter.Wait] given it in [WaitOptions.Watches] is served by one stream per
// (identity, resource, namespace), kept open until [Watches.Close], however
// many objects and waits there are. A reconcile of many units keeps one per
// run. It keeps the latest version of each object its streams saw, without
// its managedFields, as JSON: a third of the memory of the decoded object,
// decoded again only for a wait that starts later.
type Watches struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   WatchesOptions
	wg     sync.WaitGroup

	mu     sync.Mutex
	groups map[watchKey]*watchGroup
}

type watchKey struct {
	identity  string
	gvr       schema.GroupVersionResource
	namespace string
}

type watchGroup struct {
	mu      sync.Mutex
	synced  bool
	objects map[string][]byte // name -> JSON of the latest version
	subs    map[int]*subscriber
	next    int
	log     *slog.Logger
}

type subscriber struct {
	names map[string]int
	set   func(i int, u *unstructured.Unstructured) // nil u: not found
}

// NewWatches returns shared watches that live until ctx ends or Close.
func NewWatches(ctx context.Context, opts WatchesOptions) *Watches {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Watches{ctx: ctx, cancel: cancel, opts: opts, groups: map[watchKey]*watchGroup{}}
}

// Close stops every stream and waits for them to end.
func (ws *Watches) Close() {
	ws.cancel()
	ws.wg.Wait()
}

// subscribe registers interest in names (name -> index) of one resource
// and namespace, starting its stream if needed, and returns the function
// that ends the interest.
func (ws *Watches) subscribe(w *Waiter, gvr schema.GroupVersionResource, ns string, names map[string]int,
	set func(int, *unstructured.Unstructured)) func() {
	k := watchKey{identity: w.cluster.Identity(), gvr: gvr, namespace: ns}
	ws.mu.Lock()
	g, ok := ws.groups[k]
	if !ok {
		g = &watchGroup{objects: map[string][]byte{}, subs: map[int]*subscriber{}, log: ws.opts.Logger}
		ws.groups[k] = g
		ws.wg.Go(func() { ws.run(w, k, g) })
	}
	ws.mu.Unlock()

	g.mu.Lock()
	id := g.next
	g.next++
	sub := &subscriber{names: names, set: set}
	g.subs[id] = sub
	if g.synced {
		for name, i := range names {
			set(i, g.decode(name))
		}
	}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.subs, id)
		g.mu.Unlock()
	}
}

// listPageSize is how many objects one page of a shared LIST holds: the
// objects of a page are decoded together, so it bounds the memory a LIST
// of thousands of objects takes at once (client-go's pager uses the same).
const listPageSize = 500

// run lists and watches one group until the Watches end.
func (ws *Watches) run(w *Waiter, k watchKey, g *watchGroup) {
	ctx := ws.ctx
	client := w.dyn.Resource(k.gvr).Namespace(k.namespace)
	lopts := metav1.ListOptions{LabelSelector: ws.opts.LabelSelector}
	for ctx.Err() == nil {
		rv, decoded, stored, err := g.list(ctx, client, lopts)
		if err != nil {
			ws.opts.Logger.DebugContext(ctx, "shared list failed", "resource", k.gvr.String(), "namespace", k.namespace, "error", err)
			sleep(ctx, relistDelay)
			continue
		}
		g.mu.Lock()
		g.objects, g.synced = stored, true
		for _, s := range g.subs {
			for name, i := range s.names {
				u, ok := decoded[name]
				if !ok {
					u = g.decode(name) // subscribed while the list ran
				}
				s.set(i, u)
			}
		}
		g.mu.Unlock()
		wopts := lopts
		wopts.ResourceVersion = rv
		wopts.AllowWatchBookmarks = true
		wi, err := client.Watch(ctx, wopts)
		if err != nil {
			ws.opts.Logger.DebugContext(ctx, "shared watch failed", "resource", k.gvr.String(), "namespace", k.namespace, "error", err)
			sleep(ctx, relistDelay)
			continue
		}
		ws.drain(ctx, wi, g)
		wi.Stop()
	}
}

// list lists the group's objects page by page and returns the list's
// resourceVersion, the objects that subscribers were waiting for when their
// page came (decoded, without managedFields) and every object as the group
// keeps it (JSON by name).
func (g *watchGroup) list(ctx context.Context, client dynamic.ResourceInterface, opts metav1.ListOptions) (
	rv string, decoded map[string]*unstructured.Unstructured, stored map[string][]byte, err error) {
	decoded, stored = map[string]*unstructured.Unstructured{}, map[string][]byte{}
	opts.Limit = listPageSize
	for {
		page, err := client.List(ctx, opts)
		if err != nil {
			return "", nil, nil, err
		}
		wanted := g.wanted()
		for i := range page.Items {
			u := slim(&page.Items[i])
			name := u.GetName()
			if b := g.encode(u); b != nil {
				stored[name] = b
			}
			if wanted[name] {
				decoded[name] = u
			}
		}
		if page.GetContinue() == "" {
			return page.GetResourceVersion(), decoded, stored, nil
		}
		opts.Continue = page.GetContinue()
	}
}

// wanted returns the names subscribers wait for.
func (g *watchGroup) wanted() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]bool{}
	for _, s := range g.subs {
		for name := range s.names {
			out[name] = true
		}
	}
	return out
}

func (ws *Watches) drain(ctx context.Context, wi watch.Interface, g *watchGroup) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			u, isObj := ev.Object.(*unstructured.Unstructured)
			switch {
			case ev.Type == watch.Error:
				return
			case !isObj:
				continue
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				g.update(u.GetName(), slim(u))
			case ev.Type == watch.Deleted:
				g.update(u.GetName(), nil)
			}
		}
	}
}

// slim drops what no health check reads from an object the watches keep:
// its managedFields, often half of its size.
func slim(u *unstructured.Unstructured) *unstructured.Unstructured {
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	return u
}

// encode returns u as the group keeps it, or nil (logged) if it cannot be
// encoded, which a decoded object always can.
func (g *watchGroup) encode(u *unstructured.Unstructured) []byte {
	b, err := u.MarshalJSON()
	if err != nil {
		g.log.Debug("shared watch: cannot keep object", "name", u.GetName(), "error", err)
		return nil
	}
	return b
}

// decode returns the kept version of name, or nil when there is none.
// g.mu is held.
func (g *watchGroup) decode(name string) *unstructured.Unstructured {
	b, ok := g.objects[name]
	if !ok {
		return nil
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		g.log.Debug("shared watch: cannot decode kept object", "name", name, "error", err)
		return nil
	}
	return u
}

func (g *watchGroup) update(name string, u *unstructured.Unstructured) {
	var b []byte
	if u != nil {
		b = g.encode(u)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if b == nil {
		delete(g.objects, name)
	} else {
		g.objects[name] = b
	}
	for _, s := range g.subs {
		if i, ok := s.names[name]; ok {
			s.set(i, u)
		}
	}
}
