package source_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

// writeFiles writes files (slash paths to contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// monorepo is a repository laid out as Flux's flux2-kustomize-helm-example.
var monorepo = map[string]string{
	"apps/base/podinfo/kustomization.yaml":   "base",
	"apps/base/podinfo/release.yaml":         "release",
	"apps/staging/kustomization.yaml":        "staging",
	"apps/staging/podinfo-values.yaml":       "values",
	"apps/production/kustomization.yaml":     "production",
	"infrastructure/controllers/cm.yaml":     "cert-manager",
	"infrastructure/configs/issuers.yaml":    "issuers",
	"infrastructure/configs/README.md":       "docs",
	"infrastructure/configs/testdata/x.yaml": "test",
	"clusters/staging/apps.yaml":             "cluster",
}

func TestCompose(t *testing.T) {
	tests := []struct {
		name string
		ops  []source.Copy
		want map[string]string
	}{{
		name: "two directories' contents into two folders (flux2-kustomize-helm-example's apps)",
		ops:  []source.Copy{{From: "apps/base/**", To: "base/"}, {From: "apps/staging/**", To: "staging/"}},
		want: map[string]string{
			"base/podinfo/kustomization.yaml": "base", "base/podinfo/release.yaml": "release",
			"staging/kustomization.yaml": "staging", "staging/podinfo-values.yaml": "values",
		},
	}, {
		name: "a directory's contents to the root, with excludes by name and by path",
		ops:  []source.Copy{{From: "infrastructure/**", To: "", Exclude: []string{"*.md", "configs/testdata/**"}}},
		want: map[string]string{"controllers/cm.yaml": "cert-manager", "configs/issuers.yaml": "issuers"},
	}, {
		name: "a directory without a glob is copied as a subdirectory",
		ops:  []source.Copy{{From: "apps/staging/", To: "envs/"}},
		want: map[string]string{"envs/staging/kustomization.yaml": "staging", "envs/staging/podinfo-values.yaml": "values"},
	}, {
		name: "a file into a folder, and renamed",
		ops:  []source.Copy{{From: "clusters/staging/apps.yaml", To: "c/"}, {From: "clusters/staging/apps.yaml", To: "c/renamed.yaml"}},
		want: map[string]string{"c/apps.yaml": "cluster", "c/renamed.yaml": "cluster"},
	}, {
		name: "a one-level glob keeps each match's path",
		ops:  []source.Copy{{From: "apps/*/kustomization.yaml", To: "k/"}},
		want: map[string]string{"k/apps/staging/kustomization.yaml": "staging", "k/apps/production/kustomization.yaml": "production"},
	}, {
		name: "a later copy overwrites an earlier one",
		ops:  []source.Copy{{From: "apps/staging/kustomization.yaml", To: "k.yaml"}, {From: "apps/production/kustomization.yaml", To: "k.yaml"}},
		want: map[string]string{"k.yaml": "production"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, monorepo)
			art := &source.Artifact{Dir: dir, Revision: "main@sha1:1234", Commit: "1234"}
			dst := filepath.Join(t.TempDir(), "out")
			got, err := source.Compose(t.Context(), art, dst, tt.ops, source.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if tree := readTree(t, dst); !maps.Equal(tree, tt.want) {
				t.Errorf("composed tree:\n got %v\nwant %v", slices.Sorted(maps.Keys(tree)), slices.Sorted(maps.Keys(tt.want)))
			}
			digest, size, err := source.DirDigest(dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != dst || got.Revision != art.Revision || got.Commit != art.Commit || got.Digest != digest || got.Size != size {
				t.Errorf("artifact %+v, want Dir %s, the source's revision and the tree's digest %s", got, dst, digest)
			}
		})
	}
}

func TestComposeRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, monorepo)
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret": "host file"})
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "apps", "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	art := &source.Artifact{Dir: dir}
	tests := []struct {
		name   string
		ops    []source.Copy
		limits source.Limits
		check  func(error) bool
	}{
		{"no match", []source.Copy{{From: "charts/**", To: ""}}, source.Limits{}, isInvalid},
		{"everything excluded", []source.Copy{{From: "infrastructure/configs/*", To: "", Exclude: []string{"**"}}}, source.Limits{}, isInvalid},
		{"a missing file", []source.Copy{{From: "nope.yaml", To: ""}}, source.Limits{}, isInvalid},
		{"from outside", []source.Copy{{From: "../x", To: ""}}, source.Limits{}, isInvalid},
		{"to outside", []source.Copy{{From: "apps/staging/kustomization.yaml", To: "../../x"}}, source.Limits{}, isInvalid},
		{"a bad glob", []source.Copy{{From: "apps/[", To: ""}}, source.Limits{}, isInvalid},
		{"a bad exclude", []source.Copy{{From: "apps/**", To: "", Exclude: []string{"[x"}}}, source.Limits{}, isInvalid},
		{"a symbolic link out of the artifact", []source.Copy{{From: "apps/leak.yaml", To: "x.yaml"}}, source.Limits{}, func(err error) bool { return err != nil }},
		{"over the file limit", []source.Copy{{From: "apps/base/**", To: "a/"}, {From: "apps/base/**", To: "b/"}}, source.Limits{MaxFiles: 3},
			func(err error) bool {
				var tl *source.TooLargeError
				return errors.As(err, &tl) && tl.Files && tl.Limit == 3
			}},
		{"over the byte limit", []source.Copy{{From: "apps/**", To: ""}}, source.Limits{MaxBytes: 10},
			func(err error) bool {
				var tl *source.TooLargeError
				return errors.As(err, &tl) && !tl.Files && tl.Limit == 10
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			_, err := source.Compose(t.Context(), art, dst, tt.ops, tt.limits)
			if !tt.check(err) {
				t.Fatalf("Compose: %v", err)
			}
			t.Logf("refused: %v", err)
			if b, err := os.ReadFile(filepath.Join(outside, "..", "x")); err == nil {
				t.Fatalf("wrote outside the tree: %q", b)
			}
		})
	}
}

func isInvalid(err error) bool { return errors.Is(err, source.ErrInvalid) }

// FuzzCompose: whatever the copy operations, Compose returns an error or a
// tree of the artifact's own files under dst, and writes nowhere else.
func FuzzCompose(f *testing.F) {
	f.Add("apps/base/**", "base/", "*.md")
	f.Add("apps/staging/", "", "")
	f.Add("../../etc/passwd", "x", "")
	f.Add("apps/leak.yaml", "../out/", "")
	f.Add("**", "a/b/../../", "[")
	f.Add("clusters/staging/apps.yaml", "c", "**/x")
	f.Fuzz(func(t *testing.T, from, to, exclude string) {
		root := t.TempDir()
		src, outside := filepath.Join(root, "src"), filepath.Join(root, "outside")
		writeFiles(t, src, monorepo)
		writeFiles(t, outside, map[string]string{"secret": "host file"})
		if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "apps", "leak.yaml")); err != nil {
			t.Fatal(err)
		}
		contents := map[string]bool{}
		for _, c := range monorepo {
			contents[c] = true
		}
		dst := filepath.Join(root, "out")
		ops := []source.Copy{{From: from, To: to}}
		if exclude != "" {
			ops[0].Exclude = []string{exclude}
		}
		art, err := source.Compose(t.Context(), &source.Artifact{Dir: src}, dst, ops, source.Limits{MaxFiles: 100, MaxBytes: 1 << 20})
		if err == nil {
			for p, c := range readTree(t, art.Dir) {
				if !contents[c] {
					t.Fatalf("%s holds %q, not a file of the artifact", p, c)
				}
			}
		}
		for dir, want := range map[string]int{outside: 1, root: 3} {
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(entries); n > want {
				t.Fatalf("%s has %d entries, want at most %d: Compose wrote outside dst", dir, n, want)
			}
		}
	})
}
