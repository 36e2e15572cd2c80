package source_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// manyFiles returns n files of a few hundred bytes each, different per
// seed.
func manyFiles(n int, seed string) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		files[fmt.Sprintf("dir%02d/file%04d.yaml", i%20, i)] = strings.Repeat(fmt.Sprintf("key%d: %s-%d\n", i, seed, i), 20)
	}
	return files
}

// TestNoOpWhenUnchanged proves that an unchanged remote costs one reference
// listing and no pack: over HTTP exactly one GET of info/refs, over SSH one
// session.
func TestNoOpWhenUnchanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	for _, tr := range e.transports() {
		for _, tc := range f.refCases() {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				cache := newCache(t)
				first := mustFetch(t, tr.url(f.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Cache: cache})

				e.srv.ResetRequests()
				res := mustFetch(t, tr.url(f.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Cache: cache, LastRevision: first.Revision})
				if !res.Unchanged || res.Revision != first.Revision {
					t.Fatalf("got Unchanged=%v Revision=%s, want unchanged %s", res.Unchanged, res.Revision, first.Revision)
				}
				if a := res.Artifact; a == nil || *a != *first.Artifact {
					t.Errorf("unchanged artifact = %+v, want the cached %+v", a, first.Artifact)
				}
				// Without a cache (or once it dropped the artifact) there is none.
				bare := mustFetch(t, tr.url(f.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Dir: t.TempDir(), LastRevision: first.Revision})
				if !bare.Unchanged || bare.Artifact != nil {
					t.Errorf("unchanged without a cache: Unchanged=%v Artifact=%+v, want no artifact", bare.Unchanged, bare.Artifact)
				}
				e.srv.ResetRequests()
				if again := mustFetch(t, tr.url(f.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Cache: cache, LastRevision: first.Revision}); !again.Unchanged {
					t.Fatalf("second unchanged fetch: %+v", again)
				}
				total, packs := tr.requests()
				wantTotal := 1
				if tc.ref.Commit != "" {
					wantTotal = 0 // commits are immutable: no request at all
				}
				if total != wantTotal || packs > 0 {
					t.Errorf("server saw %d requests, %d pack fetches; want %d and 0", total, packs, wantTotal)
				}
				if tr.name == "http" && wantTotal == 1 {
					r := e.srv.HTTPRequests()[0]
					if r.Method != "GET" || !strings.HasSuffix(r.Path, "/info/refs") {
						t.Errorf("request = %s %s, want GET .../info/refs", r.Method, r.Path)
					}
				}
			})
		}
	}
}

// TestIncrementalFetch proves that a new commit is fetched into the
// existing clone: one pack request whose pack is a small fraction of the
// first one, while a fresh cache needs the whole tree again.
func TestIncrementalFetch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	for _, tr := range e.transports() {
		t.Run(tr.name, func(t *testing.T) {
			repo := gitopstest.NewGitRepo(t, e.srv, "big-"+tr.name)
			commit(t, repo, gitserver.CommitOptions{Files: manyFiles(500, "a")})
			cache := newCache(t)
			url := tr.url(repo)
			first := mustFetch(t, url, source.Options{Auth: tr.auth(t), Cache: cache})

			sha := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"dir00/file0000.yaml": "changed\n"}})
			e.srv.ResetRequests()
			second := mustFetch(t, url, source.Options{Auth: tr.auth(t), Cache: cache, LastRevision: first.Revision})
			if second.Unchanged || second.Artifact.Commit != sha {
				t.Fatalf("second fetch: %+v, want commit %s", second, sha)
			}
			if got := readTree(t, second.Artifact.Dir)["dir00/file0000.yaml"]; got != "changed\n" {
				t.Errorf("changed file = %q", got)
			}
			if _, packs := tr.requests(); packs > 1 {
				t.Errorf("%d pack requests, want 1", packs)
			}
			// Unchanged files are hard links to the previous artifact's,
			// and cached artifacts are read-only.
			same := func(p string) bool {
				a, err1 := os.Stat(filepath.Join(first.Artifact.Dir, p))
				b, err2 := os.Stat(filepath.Join(second.Artifact.Dir, p))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if b.Mode().Perm()&0o222 != 0 {
					t.Errorf("%s is writable: %v", p, b.Mode())
				}
				return os.SameFile(a, b)
			}
			if !same("dir01/file0001.yaml") || same("dir00/file0000.yaml") {
				t.Errorf("want unchanged files linked and changed files written")
			}
			fresh := mustFetch(t, url, source.Options{Auth: tr.auth(t), Cache: newCache(t)})
			t.Logf("first fetch %d bytes, incremental %d bytes, fresh clone of the new commit %d bytes",
				first.FetchedBytes, second.FetchedBytes, fresh.FetchedBytes)
			if second.FetchedBytes == 0 || second.FetchedBytes*10 > fresh.FetchedBytes {
				t.Errorf("incremental fetch received %d bytes, a fresh clone %d: want < 1/10", second.FetchedBytes, fresh.FetchedBytes)
			}
			if fresh.Artifact.Digest != second.Artifact.Digest {
				t.Errorf("digest differs between incremental (%s) and fresh (%s) fetch", second.Artifact.Digest, fresh.Artifact.Digest)
			}

			// Asking again for a revision the cache has costs no pack and
			// reuses the artifact directory.
			e.srv.ResetRequests()
			again := mustFetch(t, url, source.Options{Auth: tr.auth(t), Cache: cache})
			if again.FetchedBytes != 0 || again.Artifact.Dir != second.Artifact.Dir {
				t.Errorf("refetch: %d bytes, dir %s (want 0 bytes, dir %s)", again.FetchedBytes, again.Artifact.Dir, second.Artifact.Dir)
			}
			if _, packs := tr.requests(); packs > 0 {
				t.Errorf("refetch made %d pack requests", packs)
			}
		})
	}
}

// TestForcePushedBranch rewrites main to an unrelated history and back to
// an older commit; the cache follows without getting stuck.
func TestForcePushedBranch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	for _, tr := range e.transports() {
		t.Run(tr.name, func(t *testing.T) {
			repo := gitopstest.NewGitRepo(t, e.srv, "force-"+tr.name)
			c1 := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
			c2 := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
			other := commit(t, repo, gitserver.CommitOptions{Branch: "rewrite", ReplaceAll: true, Files: map[string]string{"b": "unrelated"}})
			cache := newCache(t)
			url := tr.url(repo)
			opts := source.Options{Ref: source.Ref{Branch: "main"}, Auth: tr.auth(t), Cache: cache}

			steps := []struct {
				rev   string
				files map[string]string
			}{
				{c2, map[string]string{"a": "2"}},
				{other, map[string]string{"b": "unrelated"}},
				{c1, map[string]string{"a": "1"}},
			}
			last := ""
			for i, s := range steps {
				if i > 0 {
					if err := repo.ResetBranch(t.Context(), "main", s.rev); err != nil {
						t.Fatal(err)
					}
				}
				opts.LastRevision = last
				res := mustFetch(t, url, opts)
				if res.Unchanged || res.Artifact.Commit != s.rev {
					t.Fatalf("step %d: got %+v, want commit %s", i, res, s.rev)
				}
				got := readTree(t, res.Artifact.Dir)
				if fmt.Sprint(got) != fmt.Sprint(s.files) {
					t.Errorf("step %d: files %v, want %v", i, got, s.files)
				}
				last = res.Revision
			}
			// A new commit on the rewritten branch.
			c4 := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "4"}})
			opts.LastRevision = last
			if res := mustFetch(t, url, opts); res.Artifact.Commit != c4 {
				t.Fatalf("after rewrite: got %s, want %s", res.Artifact.Commit, c4)
			}
		})
	}
}

// TestParallelFetchesShareCache runs fetches of the same URL (some of the
// same ref, some of others) from several goroutines on one cache, and
// through two Cache values on one directory (file lock). Run with -race.
func TestParallelFetchesShareCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	dir := t.TempDir()
	c1, err := source.NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := source.NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	refs := []source.Ref{{Branch: "main"}, {Branch: "main"}, {Tag: "v1.0.0"}, {Branch: "feature"}, {Branch: "main"}, {SemVer: "2.x"}}
	for _, tr := range e.transports() {
		t.Run(tr.name, func(t *testing.T) {
			var wg sync.WaitGroup
			results := make([]*source.Result, len(refs))
			errs := make([]error, len(refs))
			for i, ref := range refs {
				cache := c1
				if i%2 == 1 {
					cache = c2
				}
				wg.Go(func() {
					results[i], errs[i] = source.Fetch(t.Context(), tr.url(f.repo), source.Options{Ref: ref, Auth: tr.auth(t), Cache: cache})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("fetch %d (%v): %v", i, refs[i], err)
				}
			}
			byCommit := map[string]*source.Artifact{}
			for i, res := range results {
				a := res.Artifact
				if want := f.wantConfig[a.Commit]; readTree(t, a.Dir)["app/config.yaml"] != want {
					t.Errorf("fetch %d: wrong content for %s", i, a.Revision)
				}
				if prev, ok := byCommit[a.Commit]; ok && (prev.Dir != a.Dir || prev.Digest != a.Digest) {
					t.Errorf("same commit, different artifacts: %+v vs %+v", prev, a)
				}
				byCommit[a.Commit] = a
			}
		})
	}
	// Nothing left behind in the work directory.
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) > 0 {
		t.Errorf("tmp not empty: %v", entries)
	}
}

func TestCachePrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	cache := newCache(t)
	res := mustFetch(t, f.repo.HTTPURL(), source.Options{Cache: cache})
	if n, err := cache.Prune(t.Context(), time.Hour); err != nil || n != 0 {
		t.Fatalf("Prune(1h) = %d, %v; want 0", n, err)
	}
	if _, err := os.Stat(res.Artifact.Dir); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(res.Artifact.Dir+".json", old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := cache.Prune(t.Context(), time.Hour); err != nil || n != 1 {
		t.Fatalf("Prune(1h) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(res.Artifact.Dir); !os.IsNotExist(err) {
		t.Fatalf("artifact still there: %v", err)
	}
	// The clone is kept: the next fetch writes the artifact from it.
	e.srv.ResetRequests()
	again := mustFetch(t, f.repo.HTTPURL(), source.Options{Cache: cache})
	if again.FetchedBytes != 0 || again.Artifact.Digest != res.Artifact.Digest {
		t.Errorf("after prune: %d bytes fetched, digest %s (want 0, %s)", again.FetchedBytes, again.Artifact.Digest, res.Artifact.Digest)
	}
}

// TestCacheRepairsMissingObjects removes an object the clone should have
// (as an interrupted fetch leaves it) and checks that the next fetch
// fetches the tree again instead of failing forever.
func TestCacheRepairsMissingObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "repair")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1\n", "b": "2\n"}})
	cache := newCache(t)
	first := mustFetch(t, repo.HTTPURL(), source.Options{Cache: cache})
	content := "changed\n"
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": content}})
	second := mustFetch(t, repo.HTTPURL(), source.Options{Cache: cache, LastRevision: first.Revision})

	// The incremental fetch stored the new blob loose; delete it and the
	// artifact.
	sum := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
	blob := hex.EncodeToString(sum[:])
	repos, _ := filepath.Glob(filepath.Join(cache.Dir(), "repos", "*", "objects", blob[:2], blob[2:]))
	if len(repos) != 1 {
		t.Fatalf("loose blob %s not found: %v", blob, repos)
	}
	if err := os.Remove(repos[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Prune(t.Context(), -time.Hour); err != nil {
		t.Fatal(err)
	}

	again := mustFetch(t, repo.HTTPURL(), source.Options{Cache: cache})
	if again.Artifact.Digest != second.Artifact.Digest || readTree(t, again.Artifact.Dir)["a"] != content {
		t.Errorf("after repair: %+v", again.Artifact)
	}
	if again.FetchedBytes == 0 {
		t.Errorf("nothing fetched for the repair")
	}
}
