package source_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

func TestIgnoreRulesAndTreeContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "ignore")
	commit(t, repo, gitserver.CommitOptions{
		Files: map[string]string{
			".sourceignore":     "# docs are not deployed\n*.md\ntmp/\n",
			"README.md":         "readme\n",
			"docs/guide.md":     "guide\n",
			"keep.md":           "kept by the caller's pattern\n",
			"app/deploy.yaml":   "kind: Deployment\n",
			"tmp/scratch.yaml":  "scratch\n",
			"sub/.git/config":   "hostile\n",
			"sub/ok.yaml":       "ok\n",
			"app/nested/x.yaml": "x\n",
		},
		Executables: map[string]string{"run.sh": "#!/bin/sh\n"},
		Symlinks:    map[string]string{"link": "app/deploy.yaml", "escape": "../../etc/passwd"},
	})
	res := mustFetch(t, repo.HTTPURL(), source.Options{Cache: newCache(t), Ignore: []string{"!keep.md"}})
	got := readTree(t, res.Artifact.Dir)
	want := map[string]string{
		".sourceignore":     "# docs are not deployed\n*.md\ntmp/\n",
		"keep.md":           "kept by the caller's pattern\n",
		"app/deploy.yaml":   "kind: Deployment\n",
		"app/nested/x.yaml": "x\n",
		"sub/ok.yaml":       "ok\n",
		"run.sh":            "#!/bin/sh\n",
		"link":              "-> app/deploy.yaml",
		"escape":            "-> ../../etc/passwd",
	}
	if fmt.Sprint(keys(got)) != fmt.Sprint(keys(want)) {
		t.Fatalf("files = %v\nwant    %v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if fi, err := os.Stat(filepath.Join(res.Artifact.Dir, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh not executable: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(res.Artifact.Dir, "tmp")); !os.IsNotExist(err) {
		t.Errorf("ignored directory tmp exists: %v", err)
	}
	var size int64
	for k, v := range want {
		if v[0] != '-' || k == "keep.md" {
			size += int64(len(v))
		}
	}
	if res.Artifact.Size != size {
		t.Errorf("Size = %d, want %d", res.Artifact.Size, size)
	}
}

// TestDigestChangesOnlyWithIncludedFiles makes commits that touch ignored
// and included files and checks the digest after each.
func TestDigestChangesOnlyWithIncludedFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "digest")
	commit(t, repo, gitserver.CommitOptions{
		Files:       map[string]string{".sourceignore": "*.md\n", "README.md": "1", "app.yaml": "a: 1\n"},
		Executables: map[string]string{"run.sh": "#!/bin/sh\n"},
		Symlinks:    map[string]string{"link": "app.yaml"},
	})
	cache := newCache(t)
	opts := source.Options{Cache: cache, Ignore: []string{"scratch/"}}
	prev := mustFetch(t, repo.HTTPURL(), opts).Artifact

	steps := []struct {
		name    string
		change  gitserver.CommitOptions
		changed bool
	}{
		{"ignored file by .sourceignore", gitserver.CommitOptions{Files: map[string]string{"README.md": "2"}}, false},
		{"new ignored file", gitserver.CommitOptions{Files: map[string]string{"docs/x.md": "x"}}, false},
		{"ignored by the caller", gitserver.CommitOptions{Files: map[string]string{"scratch/a.yaml": "a"}}, false},
		{"included content", gitserver.CommitOptions{Files: map[string]string{"app.yaml": "a: 2\n"}}, true},
		{"exec bit dropped", gitserver.CommitOptions{Files: map[string]string{"run.sh": "#!/bin/sh\n"}}, true},
		{"symlink target", gitserver.CommitOptions{Symlinks: map[string]string{"link": "run.sh"}}, true},
		{"file renamed", gitserver.CommitOptions{Delete: []string{"app.yaml"}, Files: map[string]string{"app2.yaml": "a: 2\n"}}, true},
		{"ignore rule now ignores a file", gitserver.CommitOptions{Files: map[string]string{".sourceignore": "*.md\napp2.yaml\n"}}, true},
	}
	for _, s := range steps {
		sha := commit(t, repo, s.change)
		a := mustFetch(t, repo.HTTPURL(), opts).Artifact
		if a.Commit != sha || a.Revision == prev.Revision {
			t.Fatalf("%s: fetched %s, want %s", s.name, a.Revision, sha)
		}
		if (a.Digest != prev.Digest) != s.changed {
			t.Errorf("%s: digest %s -> %s, want changed=%v", s.name, prev.Digest, a.Digest, s.changed)
		}
		if d, _, err := source.DirDigest(a.Dir); err != nil || d != a.Digest {
			t.Errorf("%s: DirDigest = %s, %v; artifact %s", s.name, d, err, a.Digest)
		}
		prev = a
	}

	// Other caller patterns: another artifact of the same commit.
	b := mustFetch(t, repo.HTTPURL(), source.Options{Cache: cache, Ignore: []string{"run.sh"}}).Artifact
	if b.Commit != prev.Commit || b.Dir == prev.Dir || b.Digest == prev.Digest {
		t.Errorf("other ignore patterns: %+v vs %+v", b, prev)
	}
}

func TestPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "paths")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"apps/a/x.yaml": "a", "apps/b/y.yaml": "b", "infra/z.yaml": "z", "apps-other/w.yaml": "w", "README": "r",
	}})
	res := mustFetch(t, repo.HTTPURL(), source.Options{Cache: newCache(t), Paths: []string{"apps/a", "./infra/", "README"}})
	if got := keys(readTree(t, res.Artifact.Dir)); fmt.Sprint(got) != "[README apps/a/x.yaml infra/z.yaml]" {
		t.Errorf("files = %v", got)
	}
	_, err := source.Fetch(t.Context(), repo.HTTPURL(), source.Options{Cache: newCache(t), Paths: []string{"apps/c"}})
	if !errors.Is(err, source.ErrPathNotFound) {
		t.Errorf("missing path: err = %v, want ErrPathNotFound", err)
	}
}

// TestDirDigestDefinition recomputes the documented digest by hand.
func TestDirDigestDefinition(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, content string, perm os.FileMode) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, perm); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "b\n", 0o644)
	write("a/z.txt", "z", 0o600)
	write("run", "#!/bin/sh\n", 0o755)
	write(".git/HEAD", "ignored", 0o644)
	if err := os.Symlink("b.yaml", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	records := []string{ // in bytewise path order
		"100644 " + sum("z") + " a/z.txt\x00",
		"100644 " + sum("b\n") + " b.yaml\x00",
		"120000 " + sum("b.yaml") + " l\x00",
		"100755 " + sum("#!/bin/sh\n") + " run\x00",
	}
	h := sha256.New()
	for _, r := range records {
		h.Write([]byte(r))
	}
	want := "sha256:" + hex.EncodeToString(h.Sum(nil))

	got, size, err := source.DirDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("DirDigest = %s, want %s", got, want)
	}
	if size != int64(len("z")+len("b\n")+len("#!/bin/sh\n")) {
		t.Errorf("size = %d", size)
	}
}
