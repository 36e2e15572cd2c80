package source_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// benchRepo makes a repository of about 3,000 files with a history of
// commits that each change a few of them.
func benchRepo(b *testing.B, srv *gitserver.Server, files, commits int) *gitserver.Repo {
	b.Helper()
	repo := gitopstest.NewGitRepo(b, srv, "bench")
	commit(b, repo, gitserver.CommitOptions{Files: manyFiles(files, "v0")})
	for i := 1; i < commits; i++ {
		commit(b, repo, gitserver.CommitOptions{Files: map[string]string{
			fmt.Sprintf("dir%02d/file%04d.yaml", i%20, (i*37)%files): fmt.Sprintf("rev: %d\n", i),
		}})
	}
	return repo
}

// BenchmarkSource measures the package's three paths on a 3,000-file
// repository served by git http-backend on loopback, and, for the design
// choice between a memory and a disk clone, go-git's own clone modes and
// the git CLI on the same repository. It asserts nothing about time.
func BenchmarkSource(b *testing.B) {
	srv := gitopstest.StartGitServer(b, gitserver.Options{})
	repo := benchRepo(b, srv, 3000, 100)
	url := repo.HTTPURL()
	ctx := context.Background()

	tmp := func(b *testing.B) string {
		b.Helper()
		d, err := os.MkdirTemp("", "bench-")
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	report := func(b *testing.B, res *source.Result) {
		if res.Artifact != nil {
			b.ReportMetric(float64(res.FetchedBytes), "pack-bytes")
		}
	}

	b.Run("first-fetch-cache", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			cache, err := source.NewCache(d)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := source.Fetch(ctx, url, source.Options{Cache: cache})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			report(b, res)
			os.RemoveAll(d)
			b.StartTimer()
		}
	})

	b.Run("first-fetch-dir", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			b.StartTimer()
			res, err := source.Fetch(ctx, url, source.Options{Dir: d})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			report(b, res)
			os.RemoveAll(d)
			b.StartTimer()
		}
	})

	// The same without creating 3,000 files: what the object transfer and
	// storage cost, on disk (cache) and in memory (dir).
	one := []string{"dir00/file0000.yaml"}
	b.Run("first-fetch-cache-1-file", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			cache, err := source.NewCache(d)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := source.Fetch(ctx, url, source.Options{Cache: cache, Paths: one}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(d)
			b.StartTimer()
		}
	})
	b.Run("first-fetch-dir-1-file", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			b.StartTimer()
			if _, err := source.Fetch(ctx, url, source.Options{Dir: d, Paths: one}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(d)
			b.StartTimer()
		}
	})

	cacheDir := tmp(b)
	b.Cleanup(func() { os.RemoveAll(cacheDir) })
	cache, err := source.NewCache(cacheDir)
	if err != nil {
		b.Fatal(err)
	}
	first, err := source.Fetch(ctx, url, source.Options{Cache: cache})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("no-op-check", func(b *testing.B) {
		for b.Loop() {
			res, err := source.Fetch(ctx, url, source.Options{Cache: cache, LastRevision: first.Revision})
			if err != nil || !res.Unchanged {
				b.Fatal(res, err)
			}
		}
	})

	b.Run("cached-revision", func(b *testing.B) {
		for b.Loop() {
			if _, err := source.Fetch(ctx, url, source.Options{Cache: cache}); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("incremental-one-commit", func(b *testing.B) {
		last := first.Revision
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			commit(b, repo, gitserver.CommitOptions{Files: map[string]string{"dir00/file0000.yaml": fmt.Sprintf("bench: %d\n", i)}})
			b.StartTimer()
			res, err := source.Fetch(ctx, url, source.Options{Cache: cache, LastRevision: last})
			if err != nil || res.Unchanged {
				b.Fatal(res, err)
			}
			b.StopTimer()
			report(b, res)
			last = res.Revision
			b.StartTimer()
		}
	})

	// Reference points for the design choice.
	b.Run("go-git-clone-memory-no-worktree", func(b *testing.B) {
		for b.Loop() {
			_, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: url, Depth: 1, SingleBranch: true, Tags: git.NoTags})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git-clone-memory-memfs-worktree", func(b *testing.B) {
		for b.Loop() {
			_, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: url, Depth: 1, SingleBranch: true, Tags: git.NoTags})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git-plainclone-disk-worktree", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			b.StartTimer()
			_, err := git.PlainCloneContext(ctx, d, false, &git.CloneOptions{URL: url, Depth: 1, SingleBranch: true, Tags: git.NoTags})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(d)
			b.StartTimer()
		}
	})
	b.Run("git-cli-clone-depth-1", func(b *testing.B) {
		if _, err := exec.LookPath("git"); err != nil {
			b.Skip("git not installed")
		}
		for b.Loop() {
			b.StopTimer()
			d := tmp(b)
			b.StartTimer()
			out, err := exec.Command("git", "clone", "--quiet", "--depth", "1", "--no-tags", url, d).CombinedOutput()
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			b.StopTimer()
			os.RemoveAll(d)
			b.StartTimer()
		}
	})
}
