package source_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// TestLimitsBytes: a small repository whose tree holds one blob under
// eight paths expands to eight times the blob on disk; the bound stops the
// fetch at the file that passes it, from the blob's size, before writing
// it, with a *TooLargeError, and leaves nothing behind (into Dir or into a
// Cache).
func TestLimitsBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "blob")
	blob := strings.Repeat("0", 1<<20)
	files := map[string]string{}
	for i := range 8 {
		files[fmt.Sprintf("p%d/big", i)] = blob
	}
	commit(t, repo, gitserver.CommitOptions{Files: files})
	limits := source.Limits{MaxBytes: 3<<20 + 1000}

	for _, into := range []string{"dir", "cache"} {
		t.Run(into, func(t *testing.T) {
			opts := source.Options{Limits: limits}
			dir := t.TempDir()
			if into == "dir" {
				opts.Dir = dir
			} else {
				opts.Cache = newCache(t)
			}
			_, err := source.Fetch(t.Context(), repo.HTTPURL(), opts)
			var te *source.TooLargeError
			if !errors.As(err, &te) || !errors.Is(err, source.ErrTooLarge) {
				t.Fatalf("err = %v, want a *TooLargeError", err)
			}
			if te.Path != "p3/big" || te.Files || te.Limit != limits.MaxBytes || te.Count != 4<<20 {
				t.Errorf("TooLargeError = %+v, want p3/big at %d bytes", te, 4<<20)
			}
			if into == "dir" {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("the failed fetch left %d entries in Dir", len(entries))
				}
			} else {
				// Within the limits the same cache serves the repository.
				opts.Limits = source.Limits{}
				if res := mustFetch(t, repo.HTTPURL(), opts); res.Artifact.Size != 8<<20 {
					t.Errorf("artifact size %d, want %d", res.Artifact.Size, 8<<20)
				}
				// An artifact found in the cache is held to the limits too.
				opts.Limits = limits
				if _, err := source.Fetch(t.Context(), repo.HTTPURL(), opts); !errors.Is(err, source.ErrTooLarge) {
					t.Errorf("cached artifact over the limits: %v, want ErrTooLarge", err)
				}
			}
		})
	}
}

// TestLimitsFiles: the file count is bounded (symlinks count).
func TestLimitsFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "many")
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("f%02d", i)] = "x"
	}
	commit(t, repo, gitserver.CommitOptions{Files: files, Symlinks: map[string]string{"l": "f00"}})
	_, err := source.Fetch(t.Context(), repo.HTTPURL(), source.Options{Dir: t.TempDir(), Limits: source.Limits{MaxFiles: 20}})
	var te *source.TooLargeError
	if !errors.As(err, &te) || !te.Files || te.Count != 21 || te.Limit != 20 {
		t.Fatalf("err = %v (%+v), want a *TooLargeError over 20 files", err, te)
	}
	res := mustFetch(t, repo.HTTPURL(), source.Options{Dir: t.TempDir(), Limits: source.Limits{MaxFiles: 21}})
	if got := len(readTree(t, res.Artifact.Dir)); got != 21 {
		t.Errorf("%d files, want 21", got)
	}
	if d := source.DefaultLimits(); d.MaxBytes != 1<<30 || d.MaxFiles != 100000 {
		t.Errorf("DefaultLimits() = %+v", d)
	}
}

// TestFetchStopsWritingAtContextEnd: a context that ends while the
// artifact is being written stops the writing; Fetch returns the context's
// error (not nil after writing everything) and leaves Dir empty.
func TestFetchStopsWritingAtContextEnd(t *testing.T) {
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "slow")
	files := map[string]string{}
	for i := range 3000 {
		files[fmt.Sprintf("d%02d/f%04d", i%50, i)] = "x"
	}
	commit(t, repo, gitserver.CommitOptions{Files: files})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	go func() {
		// Cancel once the first file is written (not a timing assertion:
		// only when the cancellation happens depends on time).
		for ctx.Err() == nil {
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{Dir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch = %v, %v; want context.Canceled", res, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the cancelled fetch left %d entries in Dir", len(entries))
	}
}

// TestLimitsPackBytes: the bytes received are bounded as they arrive: a
// repository whose pack is larger than MaxPackBytes (incompressible
// content) fails with a *TooLargeError marked Pack and leaves nothing
// behind; the same fetch within the bound succeeds.
func TestLimitsPackBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "noise")
	noise := make([]byte, 256<<10)
	var x uint32 = 1
	for i := range noise {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		noise[i] = byte(x)
	}
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"noise.bin": string(noise)}})
	dir := t.TempDir()
	_, err := source.Fetch(t.Context(), repo.HTTPURL(), source.Options{Dir: dir, Limits: source.Limits{MaxPackBytes: 64 << 10}})
	var te *source.TooLargeError
	if !errors.As(err, &te) || !te.Pack || !errors.Is(err, source.ErrTooLarge) {
		t.Fatalf("err = %v, want a *TooLargeError with Pack", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the failed fetch left %d entries in Dir", len(entries))
	}
	t.Log(err)
	if _, err := source.Fetch(t.Context(), repo.HTTPURL(), source.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
}
