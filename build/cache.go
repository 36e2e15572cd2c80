package build

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DefaultCacheEntries is the size of a [Cache] made with NewCache(0).
const DefaultCacheEntries = 64

// Cache remembers build results keyed by artifact digest, path and options,
// so that a revision that has not changed is not built again. It holds at
// most a fixed number of results and drops the least recently used first.
//
// Results are stored as private copies and every hit returns a fresh deep
// copy, so callers may change what they get. Concurrent builds of the same
// key while none is cached run once: the others wait for it.
//
// A Cache is safe for concurrent use. Nothing is shared between Cache
// values; make one per program (or per tenant) and pass it in
// [KustomizeOptions.Cache].
type Cache struct {
	max int

	mu       sync.Mutex
	ll       *list.List // of *cacheEntry, most recent first
	entries  map[string]*list.Element
	inflight map[string]*cacheCall
	hits     uint64
	misses   uint64
}

type cacheEntry struct {
	key  string
	objs []*unstructured.Unstructured
}

type cacheCall struct {
	done chan struct{}
	objs []*unstructured.Unstructured
	err  error
}

// CacheStats counts cache lookups.
type CacheStats struct {
	Hits, Misses uint64
	Entries      int
}

// NewCache returns a cache holding at most maxEntries results;
// maxEntries <= 0 means [DefaultCacheEntries].
func NewCache(maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{
		max:      maxEntries,
		ll:       list.New(),
		entries:  map[string]*list.Element{},
		inflight: map[string]*cacheCall{},
	}
}

// Stats returns the hit and miss counts and the number of entries.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: c.ll.Len()}
}

// Purge drops every entry.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.entries)
}

// do returns the cached result for key, or runs build once for all
// concurrent callers and caches a successful result.
func (c *Cache) do(ctx context.Context, key string, build func() ([]*unstructured.Unstructured, error)) ([]*unstructured.Unstructured, error) {
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			c.ll.MoveToFront(el)
			c.hits++
			objs := el.Value.(*cacheEntry).objs
			c.mu.Unlock()
			return deepCopy(objs), nil
		}
		call, waiting := c.inflight[key]
		if !waiting {
			call = &cacheCall{done: make(chan struct{})}
			c.inflight[key] = call
			c.misses++
			c.mu.Unlock()
			return c.lead(key, call, build)
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-call.done:
		}
		if call.err == nil {
			c.mu.Lock()
			c.hits++
			c.mu.Unlock()
			return deepCopy(call.objs), nil
		}
		// The leader failed, maybe only because its context ended: try
		// again, possibly leading this time.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

func (c *Cache) lead(key string, call *cacheCall, build func() ([]*unstructured.Unstructured, error)) (objs []*unstructured.Unstructured, err error) {
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		if err == nil {
			call.objs = deepCopy(objs)
			c.add(key, call.objs)
		} else {
			call.err = err
		}
		c.mu.Unlock()
		close(call.done)
	}()
	return build()
}

func (c *Cache) add(key string, objs []*unstructured.Unstructured) {
	if el, ok := c.entries[key]; ok {
		c.ll.MoveToFront(el)
		el.Value.(*cacheEntry).objs = objs
		return
	}
	c.entries[key] = c.ll.PushFront(&cacheEntry{key: key, objs: objs})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

func deepCopy(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// cacheKeyVersion changes whenever the build output for the same inputs may
// change (a kustomize upgrade, a change to generation or substitution).
const cacheKeyVersion = "kustomize/v1 kustomize-api/v0.21.2"

// kustomizeCacheKey hashes everything that determines a build's output. The
// artifact directory itself is not part of it: the digest stands for its
// content. Limits decide only whether a build succeeds; builds with
// AllowRemoteBases are not cached.
func kustomizeCacheKey(p string, opts *KustomizeOptions) string {
	in := struct {
		Version           string
		Digest            string
		Path              string
		TargetNamespace   string
		NamePrefix        string
		NameSuffix        string
		CommonLabels      map[string]string
		CommonAnnotations map[string]string
		Images            []Image
		Patches           []Patch
		Components        []string
		Substitute        map[string]string
		SubstituteSet     bool
		StrictSubstitute  bool
	}{
		cacheKeyVersion, opts.ArtifactDigest, path.Clean("/" + strings.TrimPrefix(p, "/")),
		opts.TargetNamespace, opts.NamePrefix, opts.NameSuffix,
		opts.CommonLabels, opts.CommonAnnotations, opts.Images, opts.Patches, opts.Components,
		opts.Substitute, opts.Substitute != nil, opts.StrictSubstitute,
	}
	b, _ := json.Marshal(in) // maps are marshalled with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
