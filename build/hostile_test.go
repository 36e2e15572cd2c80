package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKustomizeHostile(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	tests := []struct {
		name   string
		files  map[string]string
		setup  func(t *testing.T, dir string)
		path   string
		opts   KustomizeOptions
		target error
		check  func(t *testing.T, err error)
	}{
		{
			name:   "resource ../../etc/passwd",
			files:  map[string]string{"app/kustomization.yaml": "resources: [../../etc/passwd]\n"},
			path:   "app",
			target: ErrPathEscape,
			check: func(t *testing.T, err error) {
				var pe *PathEscapeError
				if !errors.As(err, &pe) || pe.Path != "../etc/passwd" {
					t.Fatalf("PathEscapeError = %+v", pe)
				}
			},
		},
		{
			name:   "base ../../.. directory",
			files:  map[string]string{"a/b/kustomization.yaml": "resources: [../../../..]\n"},
			path:   "a/b",
			target: ErrPathEscape,
		},
		{
			name:   "unit path escapes",
			files:  map[string]string{"a.yaml": cm},
			path:   "../..",
			target: ErrPathEscape,
		},
		{
			name:   "component escapes",
			files:  map[string]string{"app/a.yaml": cm},
			path:   "app",
			opts:   KustomizeOptions{Components: []string{"../../outside"}},
			target: ErrPathEscape,
		},
		{
			name:  "symlink to /",
			files: map[string]string{"app/kustomization.yaml": "resources: [root/etc/passwd]\n"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "/", filepath.Join(dir, "app", "root"))
			},
			path:   "app",
			target: ErrPathEscape,
			check: func(t *testing.T, err error) {
				var pe *PathEscapeError
				if !errors.As(err, &pe) || pe.Path != "app/root" || pe.Target != "/" {
					t.Fatalf("PathEscapeError = %+v", pe)
				}
			},
		},
		{
			name:  "relative symlink to a file outside",
			files: map[string]string{"app/kustomization.yaml": "resources: [secret.yaml]\n"},
			setup: func(t *testing.T, dir string) {
				outside := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-outside.yaml")
				if err := os.WriteFile(outside, []byte(cm), 0o644); err != nil {
					t.Fatal(err)
				}
				symlink(t, "../../"+filepath.Base(outside), filepath.Join(dir, "app", "secret.yaml"))
			},
			path:   "app",
			target: ErrPathEscape,
		},
		{
			name:  "symlinked unit directory outside",
			files: map[string]string{"x": ""},
			setup: func(t *testing.T, dir string) {
				symlink(t, t.TempDir(), filepath.Join(dir, "app"))
			},
			path:   "app",
			target: ErrPathEscape,
		},
		{
			name:  "symlink escaping in a generated kustomization",
			files: map[string]string{"app/a.yaml": cm},
			setup: func(t *testing.T, dir string) {
				symlink(t, "/etc/hostname", filepath.Join(dir, "app", "b.yaml"))
			},
			path:   "app",
			target: ErrPathEscape,
		},
		{
			name:  "symlink loop",
			files: map[string]string{"app/kustomization.yaml": "resources: [loop/x.yaml]\n"},
			setup: func(t *testing.T, dir string) {
				symlink(t, "loop", filepath.Join(dir, "app", "loop"))
			},
			path: "app",
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "x.yaml") {
					t.Fatalf("err = %v", err)
				}
			},
		},
		{
			name:   "remote git base",
			files:  map[string]string{"app/kustomization.yaml": "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n"},
			path:   "app",
			target: ErrRemoteBase,
			check: func(t *testing.T, err error) {
				var re *RemoteBaseError
				if !errors.As(err, &re) || re.Kustomization != "app/kustomization.yaml" || !strings.HasPrefix(re.Ref, "https://github.com/") {
					t.Fatalf("RemoteBaseError = %+v", re)
				}
			},
		},
		{
			name: "remote ssh base in a nested base",
			files: map[string]string{
				"app/kustomization.yaml":  "resources: [../base]\n",
				"base/kustomization.yaml": "resources: [git@github.com:org/repo.git//deploy]\n",
			},
			path:   "app",
			target: ErrRemoteBase,
		},
		{
			name:   "remote patch file",
			files:  map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\npatches:\n- path: http://example.com/patch.yaml\n", "app/a.yaml": cm},
			path:   "app",
			target: ErrRemoteBase,
		},
		{
			name:   "github shorthand",
			files:  map[string]string{"app/kustomization.yaml": "resources: [github.com/org/repo/deploy]\n"},
			path:   "app",
			target: ErrRemoteBase,
		},
		{
			name:   "file over the size limit",
			files:  map[string]string{"app/kustomization.yaml": "resources: [big.yaml]\n", "app/big.yaml": cm + "data: {k: '" + strings.Repeat("x", 2048) + "'}\n"},
			path:   "app",
			opts:   KustomizeOptions{Limits: Limits{MaxFileSize: 1024}},
			target: ErrTooLarge,
			check: func(t *testing.T, err error) {
				var te *TooLargeError
				if !errors.As(err, &te) || te.Path != "app/big.yaml" || te.Limit != 1024 || te.Total {
					t.Fatalf("TooLargeError = %+v", te)
				}
			},
		},
		{
			name:   "build over the total limit",
			files:  map[string]string{"app/a.yaml": cm, "app/b.yaml": strings.Replace(cm, "name: a", "name: b", 1)},
			path:   "app",
			opts:   KustomizeOptions{Limits: Limits{MaxTotalSize: 80}},
			target: ErrTooLarge,
		},
		{
			name:   "invalid YAML names file and line",
			files:  map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\n", "app/a.yaml": cm + "data:\n  k: v\n bad: x\n"},
			path:   "app",
			target: ErrMalformedYAML,
			check: func(t *testing.T, err error) {
				var ye *YAMLError
				if !errors.As(err, &ye) || ye.Source != "app/a.yaml" || ye.Line != 5 {
					t.Fatalf("YAMLError = %+v (%v)", ye, err)
				}
			},
		},
		{
			name:   "invalid YAML in a generated kustomization",
			files:  map[string]string{"app/a.yaml": "apiVersion: v1\nkind: [\n"},
			path:   "app",
			target: ErrMalformedYAML,
		},
		{
			name:   "invalid kustomization",
			files:  map[string]string{"app/kustomization.yaml": "resources:\n  - a.yaml\n - b.yaml\n"},
			path:   "app",
			target: ErrMalformedYAML,
		},
		{
			name:   "YAML bomb",
			files:  map[string]string{"app/kustomization.yaml": "resources: [bomb.yaml]\n", "app/bomb.yaml": billionLaughs},
			path:   "app",
			target: nil,
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Fatal("a YAML bomb built")
				}
			},
		},
		{
			name:   "YAML bomb in a generated kustomization",
			files:  map[string]string{"app/bomb.yaml": billionLaughs},
			path:   "app",
			target: ErrMalformedYAML,
		},
		{
			name:   "duplicate objects in two files",
			files:  map[string]string{"app/a.yaml": cm, "app/b.yaml": strings.Replace(cm, "v1", "v1", 1)},
			path:   "app",
			target: ErrDuplicate,
		},
		{
			name: "duplicate objects differing in version",
			files: map[string]string{
				"app/a.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
				"app/b.yaml": "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: d}\n",
			},
			path:   "app",
			target: ErrDuplicate,
			check: func(t *testing.T, err error) {
				var de *DuplicateError
				if !errors.As(err, &de) || de.Key.String() != "apps/Deployment//d" ||
					de.First != "apps/v1 from app/a.yaml" || de.Second != "apps/v1beta2 from app/b.yaml" {
					t.Fatalf("DuplicateError = %+v", de)
				}
			},
		},
		{
			name:   "kustomization includes itself",
			files:  map[string]string{"app/kustomization.yaml": "resources: [.]\n"},
			path:   "app",
			target: ErrCycle,
		},
		{
			name: "kustomizations include each other",
			files: map[string]string{
				"a/kustomization.yaml": "resources: [../b]\n",
				"b/kustomization.yaml": "resources: [../a]\n",
			},
			path:   "a",
			target: ErrCycle,
		},
		{
			name:   "object without a name",
			files:  map[string]string{"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n"},
			path:   "app",
			target: nil,
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Fatal("an object without a name built")
				}
			},
		},
		{
			name:  "exec KRM function",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\ntransformers: [fn.yaml]\n", "app/a.yaml": cm, "app/fn.yaml": "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n"},
			path:  "app",
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "plugin") {
					t.Fatalf("err = %v, want plugins disabled", err)
				}
			},
		},
		{
			name:  "helm chart inflation",
			files: map[string]string{"app/kustomization.yaml": "helmCharts:\n- name: x\n  repo: oci://example.com/charts\n"},
			path:  "app",
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Fatal("helmCharts built")
				}
			},
		},
		{
			name:  "missing path",
			files: map[string]string{"a.yaml": cm},
			path:  "nope",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("err = %v, want fs.ErrNotExist", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			objs, err := Kustomize(t.Context(), dir, tt.path, tt.opts)
			t.Logf("err: %v", err)
			if err == nil && tt.check == nil {
				t.Fatalf("built %d objects, want error", len(objs))
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want %v", err, tt.target)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestKustomizeHugeFileRefusedFast writes a 50 MB YAML file and checks that
// it is refused from its size, without being read.
func TestKustomizeHugeFileRefusedFast(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources: [huge.yaml]\n"})
	f, err := os.Create(filepath.Join(dir, "app", "huge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n")
	for written := 0; written < 50<<20; written += len(line) {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Kustomize(t.Context(), dir, "app", KustomizeOptions{})
	elapsed := time.Since(start)
	var te *TooLargeError
	if !errors.As(err, &te) || te.Size < 50<<20 {
		t.Fatalf("err = %v, want *TooLargeError", err)
	}
	t.Logf("refused in %v", elapsed)
}
