package build

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
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

// network watches every way a build could reach the network: a loopback
// HTTP server and a loopback Git server (smart HTTP and SSH), and a git
// command that logs every run before running the real git (kustomize runs
// git from PATH for Git bases, including scp-like addresses that go to
// port 22, which no test server can listen on).
type network struct {
	http    *httptest.Server
	hits    atomic.Int64
	git     *gitserver.Server
	repo    *gitserver.Repo
	gitLog  string
	realGit string
}

// watchNetwork starts the servers and puts the logging git first in PATH
// for the rest of the test (so the test cannot run in parallel).
func watchNetwork(t *testing.T) *network {
	t.Helper()
	n := &network{}
	n.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-network}\n"))
	}))
	t.Cleanup(n.http.Close)
	n.git = gitopstest.StartGitServer(t, gitserver.Options{})
	n.repo = gitopstest.NewGitRepo(t, n.git, "org/repo")
	gitopstest.GitCommit(t, n.repo, gitserver.CommitOptions{Files: map[string]string{
		"kustomization.yaml": "resources: [cm.yaml]\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\n",
	}})
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	n.realGit = realGit
	bin := t.TempDir()
	n.gitLog = filepath.Join(bin, "git.log")
	script := "#!/bin/sh\necho \"$@\" >> " + n.gitLog + "\nexec " + realGit + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return n
}

// expand replaces HTTP, GITHTTP, GITHOST and GITSSH in s with the servers'
// addresses.
func (n *network) expand(s string) string {
	return strings.NewReplacer(
		"HTTP", n.http.URL,
		"GITHTTP", n.repo.HTTPURL(),
		"GITSSH", n.repo.SSHURL(),
		"GITHOST", "127.0.0.1",
	).Replace(s)
}

// reset forgets what the servers and git saw.
func (n *network) reset(t *testing.T) {
	t.Helper()
	n.hits.Store(0)
	n.git.ResetRequests()
	if err := os.Remove(n.gitLog); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// assertSilent fails the test if anything reached the network.
func (n *network) assertSilent(t *testing.T) {
	t.Helper()
	if h := n.hits.Load(); h != 0 {
		t.Errorf("the HTTP server saw %d requests", h)
	}
	if r := n.git.HTTPRequests(); len(r) != 0 {
		t.Errorf("the Git server saw %d HTTP requests: %+v", len(r), r)
	}
	if s := n.git.SSHSessions(); len(s) != 0 {
		t.Errorf("the Git server saw %d SSH sessions", len(s))
	}
	if b, err := os.ReadFile(n.gitLog); err == nil && len(b) > 0 {
		t.Errorf("git ran: %s", b)
	}
}

// TestKustomizeHostileNoNetwork: whatever the syntax, a build that is not
// allowed remote bases makes no network request and runs no git; it fails
// with a *RemoteBaseError. Each case is a way kustomize can be made to
// fetch: through a kustomization of any file name (symlinks), inline and
// file configurations of builtin generators and transformers, every field
// that names a file, every Git address form, any YAML style.
func TestKustomizeHostileNoNetwork(t *testing.T) {
	n := watchNetwork(t)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string // link -> target, relative links
	}{
		{
			name:  "kustomization.yaml symlinked to another name",
			files: map[string]string{"app/base.txt": "resources:\n- HTTP/cm.yaml\n"},
			links: map[string]string{"app/kustomization.yaml": "base.txt"},
		},
		{
			name: "kustomization.yaml symlinked to a file also read as a resource",
			files: map[string]string{
				"app/kustomization.yaml": "resources: [../lib/x.yaml, ../lib]\n",
				"lib/x.yaml":             "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata: {name: x}\nresources:\n- GITHTTP//?ref=main\n",
			},
			links: map[string]string{"lib/kustomization.yaml": "x.yaml"},
		},
		{
			name:  "Git base in a symlinked Kustomization",
			files: map[string]string{"app/k": "resources:\n- GITHTTP//?ref=main\n"},
			links: map[string]string{"app/Kustomization": "k"},
		},
		{
			name: "inline generator, multi-line",
			files: map[string]string{"app/kustomization.yaml": "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n" +
				"  metadata: {name: g}\n  files:\n  - HTTP/data.txt\n"},
		},
		{
			name:  "inline generator, one flow line",
			files: map[string]string{"app/kustomization.yaml": "generators:\n- '{apiVersion: builtin, kind: ConfigMapGenerator, metadata: {name: g}, envs: [HTTP/e.env]}'\n"},
		},
		{
			name: "inline transformer",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n" +
				"  metadata: {name: p}\n  path: HTTP/patch.yaml\n", "app/a.yaml": cm},
		},
		{
			name: "generator configuration file",
			files: map[string]string{"app/kustomization.yaml": "generators: [gen.yaml]\n",
				"app/gen.yaml": "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: s}\nfiles: [k=HTTP/secret]\n"},
		},
		{
			name: "generator configuration with apiVersion /builtin",
			files: map[string]string{"app/kustomization.yaml": "generators: [gen.yaml]\n",
				"app/gen.yaml": "apiVersion: /builtin\nkind: ConfigMapGenerator\nmetadata: {name: s}\nfiles: [HTTP/x]\n"},
		},
		{
			name: "generator configuration in a base used as generators",
			files: map[string]string{"app/kustomization.yaml": "generators: [../gens]\n",
				"gens/kustomization.yaml": "resources: [gen.json]\n",
				"gens/gen.json":           `{"apiVersion": "builtin", "kind": "ConfigMapGenerator", "metadata": {"name": "g"}, "Files": ["HTTP/x"]}`},
		},
		{
			name: "generator configurations in a List",
			files: map[string]string{"app/kustomization.yaml": "generators: [gens.yaml]\n",
				"app/gens.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: builtin, kind: ConfigMapGenerator, metadata: {name: g}, files: [HTTP/x]}\n"},
		},
		{
			name:  "inline List of generator configurations",
			files: map[string]string{"app/kustomization.yaml": "generators:\n- |\n  kind: List\n  items:\n  - {apiVersion: builtin, kind: SecretGenerator, metadata: {name: g}, envs: [HTTP/x]}\n"},
		},
		{
			name: "replacement transformer file",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\ntransformers: [r.yaml]\n", "app/a.yaml": cm,
				"app/r.yaml": "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\nreplacements:\n- path: HTTP/r.yaml\n"},
		},
		{
			name: "plugin configuration through a YAML merge key",
			files: map[string]string{"app/kustomization.yaml": "generators: [gen.yaml]\n",
				"app/gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\n  x: &f {files: [HTTP/x]}\n<<: *f\n"},
		},
		{
			name:  "configMapGenerator file with a key",
			files: map[string]string{"app/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: [key=HTTP/f]\n"},
		},
		{
			name:  "secretGenerator envs",
			files: map[string]string{"app/kustomization.yaml": "secretGenerator:\n- name: s\n  envs: [HTTP/e.env]\n"},
		},
		{
			name:  "scp-like Git address behind git::",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- git::git@GITHOST:org/repo.git\n"},
		},
		{
			name:  "scp-like Git address, user@host/path form",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- deploy@GITHOST/org/repo.git//x\n"},
		},
		{
			name:  "GIT:: prefix in capitals before an http URL",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- GIT::GITHTTP//?ref=main\n"},
		},
		{
			name:  "ssh:// URL",
			files: map[string]string{"app/kustomization.yaml": "resources: [GITSSH]\n"},
		},
		{
			name:  "file:// Git base outside the artifact",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- file:///etc//?ref=main\n"},
		},
		{
			name:  "flow-style kustomization with quoted keys",
			files: map[string]string{"app/kustomization.yaml": `{"resources": ["HTTP/cm.yaml"]}`},
		},
		{
			name:  "field name in other letter case",
			files: map[string]string{"app/kustomization.yaml": "Resources: [HTTP/cm.yaml]\n"},
		},
		{
			name:  "component",
			files: map[string]string{"app/kustomization.yaml": "components:\n- GITHTTP//?ref=main\n"},
		},
		{
			name:  "openapi schema",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\nopenapi:\n  path: HTTP/schema.json\n", "app/a.yaml": cm},
		},
		{
			name:  "replacements file",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\nreplacements:\n- path: HTTP/r.yaml\n", "app/a.yaml": cm},
		},
		{
			name:  "patchesStrategicMerge and patchesJson6902",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\npatchesJson6902:\n- path: HTTP/p.yaml\n  target: {kind: ConfigMap, name: a, version: v1}\n", "app/a.yaml": cm},
		},
		{
			name:  "configurations",
			files: map[string]string{"app/kustomization.yaml": "resources: [a.yaml]\nconfigurations: [HTTP/c.yaml]\n", "app/a.yaml": cm},
		},
		{
			name:  "helm values file",
			files: map[string]string{"app/kustomization.yaml": "helmCharts:\n- name: c\n  valuesFile: HTTP/values.yaml\n"},
		},
		{
			name: "nested base, reached through a symlinked directory",
			files: map[string]string{"app/kustomization.yaml": "resources: [../b]\n",
				"real/kustomization.yaml": "resources: [GITHTTP.git]\n"},
			links: map[string]string{"b": "real"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.reset(t)
			files := map[string]string{}
			for p, c := range tt.files {
				files[p] = n.expand(c)
			}
			dir := writeTree(t, files)
			for link, target := range tt.links {
				symlink(t, target, filepath.Join(dir, filepath.FromSlash(link)))
			}
			objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{})
			t.Logf("err: %v", err)
			var re *RemoteBaseError
			if !errors.As(err, &re) || !errors.Is(err, ErrRemoteBase) {
				t.Errorf("built %d objects, err %v; want a *RemoteBaseError", len(objs), err)
			}
			n.assertSilent(t)
		})
	}
}

// TestKustomizeOverrunDoesNotHoldOthers: a build allowed remote bases that
// fetches from a server that never answers returns at its deadline, and so
// does a build that sets the OpenAPI schema (and must run alone) meanwhile;
// the hung fetch ends with the build (the server sees its request
// cancelled) instead of going on in the background. A later benign build in
// the same process must still succeed. (Before, the hung build held a read
// lock across kustomize's HTTP call, the openapi build queued for the write
// lock, and every later build of the process waited behind it.)
func TestKustomizeOverrunDoesNotHoldOthers(t *testing.T) {
	release := make(chan struct{})
	cancelled := make(chan struct{}, 1)
	var requests atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			cancelled <- struct{}{}
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	dir := writeTree(t, map[string]string{
		"hung/kustomization.yaml":   "resources:\n- " + hang.URL + "/never.yaml\n",
		"schema/kustomization.yaml": "openapi:\n  version: v1.21.2\nresources: [../benign]\n",
		"benign/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n",
	})

	// The hung build first; once it has reached the server, the openapi
	// build, which must wait for the schema behind it; then the hung build's
	// context ends, and it returns, its fetch cancelled.
	hungCtx, cancelHung := context.WithCancel(t.Context())
	defer cancelHung()
	hungDone := make(chan error, 1)
	go func() {
		_, err := Kustomize(hungCtx, dir, "hung", KustomizeOptions{AllowRemoteBases: true})
		hungDone <- err
	}()
	for requests.Load() == 0 {
		select {
		case err := <-hungDone:
			t.Fatalf("the hung build returned before reaching the server: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	schemaCtx, cancelSchema := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancelSchema()
	_, schemaErr := Kustomize(schemaCtx, dir, "schema", KustomizeOptions{})
	t.Logf("openapi build meanwhile: %v", schemaErr)
	cancelHung()
	if err := <-hungDone; !errors.Is(err, context.Canceled) {
		t.Errorf("hung build: %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(time.Minute): // generous, not a timing assertion
		t.Error("the hung fetch went on after its build returned")
	}

	// Generous, not a timing assertion: before the fix this build never
	// returned before its deadline.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	objs, err := Kustomize(ctx, dir, "benign", KustomizeOptions{})
	if err != nil || len(objs) != 1 {
		t.Fatalf("benign build after the hung one: %d objects, %v", len(objs), err)
	}
}

// TestKustomizeOpenAPIRefusesRemote: a build that sets the OpenAPI schema
// runs alone, so it may not fetch even when remote bases are allowed.
func TestKustomizeOpenAPIRefusesRemote(t *testing.T) {
	n := watchNetwork(t)
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml": n.expand("openapi:\n  version: v1.21.2\nresources:\n- HTTP/cm.yaml\n"),
	})
	_, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{AllowRemoteBases: true})
	var re *RemoteBaseError
	if !errors.As(err, &re) || !re.SetsSchema {
		t.Fatalf("err = %v, want a *RemoteBaseError with SetsSchema", err)
	}
	n.assertSilent(t)
}

// TestKustomizeCredentialsNeverShown: a credential in a remote reference,
// whatever part of the URL holds it, appears neither in the refusal nor,
// when remote bases are allowed, in the error of a failed fetch (which
// quotes the URL fetched).
func TestKustomizeCredentialsNeverShown(t *testing.T) {
	const secret = "S3CRETtok"
	n := watchNetwork(t)
	withUser := func(u, user string) string { return strings.Replace(u, "http://", "http://"+user+"@", 1) }
	missing := n.expand("GITHTTP-missing.git//x?ref=main")
	refs := []string{
		"https://" + secret + "@github.com/org/repo//deploy?ref=v1",
		"https://user:" + secret + "@example.com/org/repo.git",
		"https://example.com/m.yaml?access_token=" + secret,
		missing + "&token=" + secret,
		withUser(missing, secret),
		withUser(missing, "u:"+secret),
	}
	for _, allow := range []bool{false, true} {
		for _, ref := range refs {
			if allow && !strings.Contains(ref, "127.0.0.1") {
				continue // only loopback when fetching for real
			}
			dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + ref + "\n"})
			_, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{AllowRemoteBases: allow})
			if err == nil {
				t.Fatalf("%s (allowed %v) built", ref, allow)
			}
			var re *RemoteBaseError
			if !allow && !errors.As(err, &re) {
				t.Errorf("%s: %v, want a *RemoteBaseError", ref, err)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || re != nil && strings.Contains(re.Ref, secret) {
				t.Errorf("the credential shows (allowed %v): %s", allow, msg)
			}
			t.Logf("allowed %v: %v", allow, err)
		}
	}
}

// TestKustomizeLeavesArtifactUnchanged: builds that succeed, are refused or
// fail in kustomize, with generated and written kustomizations, write
// nothing to the artifact.
func TestKustomizeLeavesArtifactUnchanged(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	dir := writeTree(t, map[string]string{
		"gen/a.yaml":                cm,
		"gen/sub/b.yaml":            strings.Replace(cm, "name: a", "name: b", 1),
		"app/kustomization.yaml":    "resources: [../gen]\nconfigMapGenerator:\n- name: g\n  literals: [k=v]\n",
		"bad/kustomization.yaml":    "resources: [../../x]\n",
		"dup/kustomization.yaml":    "resources: [../gen, ../gen/a.yaml]\n",
		"remote/kustomization.yaml": "resources: [https://example.com/x.yaml]\n",
	})
	snapshot := func() string {
		var b strings.Builder
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			content := ""
			if fi.Mode().IsRegular() {
				c, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				content = string(c)
			}
			fmt.Fprintf(&b, "%s %v %v %q\n", p, fi.Mode(), fi.ModTime().UnixNano(), content)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := snapshot()
	for _, p := range []string{"gen", "app", "bad", "dup", "remote"} {
		_, err := Kustomize(t.Context(), dir, p, KustomizeOptions{NamePrefix: "x-", Substitute: map[string]string{"a": "b"}})
		t.Logf("%s: %v", p, err)
	}
	if after := snapshot(); after != before {
		t.Errorf("the artifact changed:\n%s\nwas:\n%s", after, before)
	}
}
