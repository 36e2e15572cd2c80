package build

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/gitopskit/gitopskit/internal/object"
)

// DefaultCacheEntries is the size of a [Cache] made with NewCache(0).
const DefaultCacheEntries = 64

// Cache remembers build results keyed by artifact digest, path and options,
// so that a revision that has not changed is not built again. It holds at
// most a fixed number of results and drops the least recently used first.
//
// Results are stored as JSON, a third of the memory of decoded objects, and
// every hit decodes a fresh copy, so callers may change what they get.
// Concurrent builds of the same key while none is cached run once: the
// others wait for it.
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
	objs [][]byte // the JSON of each object
}

type cacheCall struct {
	done chan struct{}
	objs [][]byte
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
			return decodeObjects(objs)
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
			return decodeObjects(call.objs)
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
		var encoded [][]byte
		callErr := err
		if err == nil {
			// An object the cache cannot keep is not cached: the leader
			// has its result, and those waiting build again.
			encoded, callErr = encodeObjects(objs)
		}
		c.mu.Lock()
		delete(c.inflight, key)
		if callErr == nil {
			call.objs = encoded
			c.add(key, encoded)
		} else {
			call.err = callErr
		}
		c.mu.Unlock()
		close(call.done)
	}()
	return build()
}

func (c *Cache) add(key string, objs [][]byte) {
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

// encodeObjects returns the JSON of each object, as the cache keeps them.
func encodeObjects(objs []*unstructured.Unstructured) ([][]byte, error) {
	out := make([][]byte, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("build cache: encode %s: %w", object.KeyOf(o), err)
		}
		out[i] = b
	}
	return out, nil
}

// decodeObjects decodes what encodeObjects returned into fresh objects, as
// a build decodes kustomize's output (integers as int64).
func decodeObjects(data [][]byte) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, len(data))
	for i, b := range data {
		var m map[string]any
		if err := utiljson.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("build cache: decode a cached object: %w", err)
		}
		out[i] = &unstructured.Unstructured{Object: m}
	}
	return out, nil
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
		IgnoreMissing     bool
		Substitute        map[string]string
		SubstituteSet     bool
		StrictSubstitute  bool
	}{
		cacheKeyVersion, opts.ArtifactDigest, path.Clean("/" + strings.TrimPrefix(p, "/")),
		opts.TargetNamespace, opts.NamePrefix, opts.NameSuffix,
		opts.CommonLabels, opts.CommonAnnotations, opts.Images, opts.Patches, opts.Components,
		opts.IgnoreMissingComponents, opts.Substitute, opts.Substitute != nil, opts.StrictSubstitute,
	}
	b, _ := json.Marshal(in) // maps are marshalled with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
