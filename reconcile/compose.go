package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gitopskit/gitopskit/source"
)

// composedTrees keeps the trees [Unit.Compose] makes, one per source
// revision and copy operations, shared by the units that compose the same
// (a Flux ArtifactGenerator's artifact used by several Kustomizations).
// Only the trees of a source's two latest revisions are kept.
type composedTrees struct {
	mu      sync.Mutex
	dir     string // made on first use, removed by Reconciler.Close
	trees   map[string]*composedTree
	digests map[string][]string // source name -> its latest artifact digests, newest last
}

type composedTree struct {
	once     sync.Once
	digest   string // the source artifact's
	artifact *source.Artifact
	err      error
}

// compose returns the tree u.Compose makes of art, making it once.
func (r *Reconciler) compose(ctx context.Context, u Unit, art *source.Artifact) (*source.Artifact, error) {
	ops, err := json.Marshal(u.Compose)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(art.Digest+"\x00"), ops...))
	key := hex.EncodeToString(sum[:16])
	c := &r.composed
	c.mu.Lock()
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "gitopskit-compose-"); err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		r.mu.Lock()
		r.cleanup = append(r.cleanup, c.dir)
		r.mu.Unlock()
		c.trees, c.digests = map[string]*composedTree{}, map[string][]string{}
	}
	t, ok := c.trees[key]
	if !ok {
		t = &composedTree{digest: art.Digest}
		c.trees[key] = t
		c.forgetOld(u.Source, art.Digest)
	}
	dir := filepath.Join(c.dir, key)
	c.mu.Unlock()
	t.once.Do(func() {
		spec, _ := r.sourceSpec(u.Source)
		t.artifact, t.err = source.Compose(ctx, art, dir, u.Compose, spec.Limits)
		if t.err != nil {
			// Not kept: the next attempt composes again (a deadline, say).
			c.mu.Lock()
			delete(c.trees, key)
			c.mu.Unlock()
			_ = os.RemoveAll(dir)
		}
	})
	return t.artifact, t.err
}

// forgetOld removes the trees of revisions of the source older than the
// two latest (c.mu held).
func (c *composedTrees) forgetOld(sourceName, digest string) {
	ds := c.digests[sourceName]
	for _, d := range ds {
		if d == digest {
			return
		}
	}
	ds = append(ds, digest)
	if len(ds) > 2 {
		old := ds[0]
		ds = ds[1:]
		for k, t := range c.trees {
			if t.digest == old {
				delete(c.trees, k)
				_ = os.RemoveAll(filepath.Join(c.dir, k))
			}
		}
	}
	c.digests[sourceName] = ds
}
