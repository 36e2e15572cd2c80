package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Cache is a directory, owned by the caller, that keeps one shallow bare
// clone per repository URL and the artifacts checked out from them, so that
// fetching a new revision transfers only new objects and fetching a known
// revision transfers nothing.
//
// Layout (inside the directory):
//
//	repos/<key>/          bare Git repository for one URL (shallow)
//	repos/<key>.lock      lock file for that repository
//	artifacts/<commit>[-<filters>]/       an artifact's tree (immutable)
//	artifacts/<commit>[-<filters>].json   its digest and size
//	tmp/                  work directories, renamed into artifacts/
//
// <key> is derived from the URL without user names; <filters> from the
// ignore patterns and paths of [Options]. An artifact is written once and
// then shared by every fetch of the same commit with the same filters,
// whatever the URL.
//
// A Cache is safe for concurrent use. Fetches of the same URL are
// serialized by an in-process lock and, on systems with flock(2), a file
// lock, so several processes may share the directory too. Fetches of
// different URLs run in parallel.
//
// Nothing is ever deleted automatically; see [Cache.Prune]. Deleting the
// directory (while no fetch runs) resets the cache.
type Cache struct {
	dir string

	mu    sync.Mutex
	locks map[string]chan struct{}
}

// NewCache returns a Cache in dir, creating the directory if needed.
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		return nil, invalidf("cache directory is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("source: cache dir: %w", err)
	}
	for _, d := range []string{"repos", "artifacts", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("source: cache dir: %w", err)
		}
	}
	return &Cache{dir: abs, locks: make(map[string]chan struct{})}, nil
}

// Dir is the cache's directory (absolute).
func (c *Cache) Dir() string { return c.dir }

// repoName is the directory name of the clone of URL key.
func repoName(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:10])
}

// lock takes the in-process and file locks of the repository of key.
func (c *Cache) lock(ctx context.Context, key string) (unlock func(), err error) {
	name := repoName(key)
	c.mu.Lock()
	ch, ok := c.locks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		c.locks[name] = ch
	}
	c.mu.Unlock()

	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := lockFile(ctx, filepath.Join(c.dir, "repos", name+".lock"))
	if err != nil {
		<-ch
		return nil, err
	}
	return func() {
		unlockFile(f)
		<-ch
	}, nil
}

// openRepo opens (creating it if needed) the bare clone for u. The caller
// holds the lock and closes the storage.
func (c *Cache) openRepo(u *remoteURL) (*filesystem.Storage, error) {
	dir := filepath.Join(c.dir, "repos", repoName(u.key))
	_, statErr := os.Stat(filepath.Join(dir, "HEAD"))
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
	if statErr == nil {
		return st, nil
	}
	repo, err := git.Init(st, nil)
	if err != nil && !errors.Is(err, git.ErrRepositoryAlreadyExists) {
		_ = st.Close()
		return nil, fmt.Errorf("initializing %s: %w", dir, err)
	}
	if repo != nil {
		// For people inspecting the cache with git.
		_, _ = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{u.String()}})
	}
	return st, nil
}

// artifactMeta is stored next to an artifact's tree.
type artifactMeta struct {
	Commit string `json:"commit"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Files lists the regular files, for later artifacts to link.
	Files []fileRecord `json:"files,omitempty"`
}

// filterKey names a set of ignore patterns and paths, "" for none.
func filterKey(ignore, paths []string) string {
	if len(ignore) == 0 && len(paths) == 0 {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "ignore\x00%s\x00paths\x00%s", strings.Join(ignore, "\x00"), strings.Join(paths, "\x00"))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// artifactPaths returns the tree directory and metadata file of an
// artifact.
func (c *Cache) artifactPaths(commit, fkey string) (dir, meta string) {
	name := commit
	if fkey != "" {
		name += "-" + fkey
	}
	dir = filepath.Join(c.dir, "artifacts", name)
	return dir, dir + ".json"
}

// lookupArtifact returns the metadata of a complete artifact, if there is
// one, and marks it used.
func (c *Cache) lookupArtifact(dir, meta string) (artifactMeta, bool) {
	b, err := os.ReadFile(meta)
	if err != nil {
		return artifactMeta{}, false
	}
	var m artifactMeta
	if json.Unmarshal(b, &m) != nil || m.Digest == "" {
		return artifactMeta{}, false
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return artifactMeta{}, false
	}
	now := time.Now()
	_ = os.Chtimes(meta, now, now)
	return m, true
}

// storeArtifact writes an artifact with write, which fills the given empty
// directory (linking files of the reusable artifact it is given), and moves
// it into place. If another fetch placed the same artifact meanwhile, that
// one is kept. key is the URL's key: the last artifact written for the URL
// is the one whose files the next can link.
func (c *Cache) storeArtifact(key, dir, meta, commit string, write func(dir string, reuse map[string]reusable) (string, int64, []fileRecord, error)) (artifactMeta, error) {
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), commit[:12]+"-")
	if err != nil {
		return artifactMeta{}, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return artifactMeta{}, err
	}
	lastFile := filepath.Join(c.dir, "repos", repoName(key)+".last")
	digest, size, files, err := write(tree, c.reusable(lastFile))
	if err != nil {
		return artifactMeta{}, err
	}
	m := artifactMeta{Commit: commit, Digest: digest, Size: size, Files: files}
	b, err := json.Marshal(m)
	if err != nil {
		return artifactMeta{}, err
	}
	tmpMeta := filepath.Join(tmp, "meta.json")
	if err := os.WriteFile(tmpMeta, b, 0o644); err != nil {
		return artifactMeta{}, err
	}
	// The metadata goes first: a tree in place always has its metadata.
	if err := os.Rename(tmpMeta, meta); err != nil {
		return artifactMeta{}, err
	}
	if err := os.Rename(tree, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return m, nil // placed by a concurrent fetch; same content
		}
		return artifactMeta{}, err
	}
	_ = os.WriteFile(lastFile, []byte(filepath.Base(dir)), 0o644)
	return m, nil
}

// reusable returns the files of the artifact named in lastFile, by mode
// and blob ID, or nil.
func (c *Cache) reusable(lastFile string) map[string]reusable {
	name, err := os.ReadFile(lastFile)
	if err != nil || strings.ContainsAny(string(name), "/\\") {
		return nil
	}
	dir, meta := filepath.Join(c.dir, "artifacts", string(name)), filepath.Join(c.dir, "artifacts", string(name)+".json")
	b, err := os.ReadFile(meta)
	if err != nil {
		return nil
	}
	var m artifactMeta
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	reuse := make(map[string]reusable, len(m.Files))
	for _, f := range m.Files {
		reuse[f.Mode+" "+f.Blob] = reusable{path: filepath.Join(dir, filepath.FromSlash(f.Path)), sha256: f.SHA256, size: f.Size}
	}
	return reuse
}

// Prune deletes the artifacts that no fetch has handed out for longer than
// olderThan, and leftovers of interrupted fetches. It returns how many
// artifacts it removed. Use an age well above the longest time a caller
// keeps using an artifact directory: an artifact handed out is not locked
// against Prune. The Git clones are kept.
func (c *Cache) Prune(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	adir := filepath.Join(c.dir, "artifacts")
	entries, err := os.ReadDir(adir)
	if err != nil {
		return 0, fmt.Errorf("source: prune: %w", err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("source: prune: %w", err)
		}
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			// A tree without metadata is a leftover.
			if _, err := os.Stat(filepath.Join(adir, e.Name()+".json")); errors.Is(err, os.ErrNotExist) {
				errs = append(errs, os.RemoveAll(filepath.Join(adir, e.Name())))
			}
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		// Tree first: metadata without a tree is ignored by lookups.
		if err := os.RemoveAll(filepath.Join(adir, name)); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, os.Remove(filepath.Join(adir, e.Name())))
		removed++
	}
	tmps, _ := os.ReadDir(filepath.Join(c.dir, "tmp"))
	for _, e := range tmps {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			errs = append(errs, os.RemoveAll(filepath.Join(c.dir, "tmp", e.Name())))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("source: prune: %w", err)
	}
	return removed, nil
}
