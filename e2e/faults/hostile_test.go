package faults_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Bounds on one reconcile of hostile content, on a shared 2-core machine.
const (
	hostileMaxTime  = 30 * time.Second
	hostileMaxAlloc = 1 << 30 // bytes allocated by the whole process during the run
)

// aliasBomb expands 9^9 times if a parser lets it.
const aliasBomb = `apiVersion: v1
kind: ConfigMap
metadata: {name: lol, namespace: %s}
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

// hugeFile is a valid multi-document YAML file of at least size bytes.
func hugeFile(size int) string {
	doc := "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata: {k: '" + strings.Repeat("x", 4000) + "'}\n"
	return strings.Repeat(doc, size/len(doc)+1)
}

// TestHostileRepositoryContent commits hostile content on top of a
// reconciled unit, together with an ordinary change (a's value) and an
// ordinary deletion (b), so that anything applied or pruned shows. The unit
// must end NotReady with BuildFailed, a message naming the offending path,
// the typed error reachable from its events (errors.Is/As), in bounded time
// and memory, without a panic, with nothing applied and nothing pruned; and
// converge once the content is fixed.
func TestHostileRepositoryContent(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name     string
		files    map[string]string // %s is replaced by the unit's namespace
		symlinks map[string]string
		is       error
		want     string // in the unit's message
		check    func(t *testing.T, err error)
	}{
		{
			name:  "path traversal in resources",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- ../../etc/passwd\n"},
			is:    build.ErrPathEscape, want: "etc/passwd",
			check: func(t *testing.T, err error) {
				var pe *build.PathEscapeError
				if !errors.As(err, &pe) || !strings.HasSuffix(pe.Path, "etc/passwd") {
					t.Errorf("PathEscapeError = %+v", pe)
				}
			},
		},
		{
			name:     "symlink to /etc/passwd",
			symlinks: map[string]string{"app/passwd.yaml": "/etc/passwd"},
			is:       build.ErrPathEscape, want: "app/passwd.yaml",
			check: func(t *testing.T, err error) {
				var pe *build.PathEscapeError
				if !errors.As(err, &pe) || pe.Path != "app/passwd.yaml" || pe.Target != "/etc/passwd" {
					t.Errorf("PathEscapeError = %+v", pe)
				}
			},
		},
		{
			name:     "relative symlink climbing out",
			symlinks: map[string]string{"app/up.yaml": "../../../../../../../../etc/hostname"},
			is:       build.ErrPathEscape, want: "app/up.yaml",
		},
		{
			name:     "symlinked directory outside",
			files:    map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- etc/passwd\n"},
			symlinks: map[string]string{"app/etc": "/etc"},
			is:       build.ErrPathEscape, want: "app/etc",
		},
		{
			name:  "remote https base",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n"},
			is:    build.ErrRemoteBase, want: "https://github.com/kubernetes-sigs/kustomize",
			check: func(t *testing.T, err error) {
				var re *build.RemoteBaseError
				if !errors.As(err, &re) || re.Kustomization != "app/kustomization.yaml" {
					t.Errorf("RemoteBaseError = %+v", re)
				}
			},
		},
		{
			name:  "remote ssh base in a nested base",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- ../base\n", "base/kustomization.yaml": "resources:\n- git@github.com:org/repo.git//deploy\n"},
			is:    build.ErrRemoteBase, want: "base/kustomization.yaml",
		},
		{
			name:  "file over 16 MiB",
			files: map[string]string{"app/huge.yaml": hugeFile(17 << 20)},
			is:    build.ErrTooLarge, want: "app/huge.yaml",
			check: func(t *testing.T, err error) {
				var te *build.TooLargeError
				if !errors.As(err, &te) || te.Path != "app/huge.yaml" || te.Size <= 16<<20 || te.Limit != 16<<20 {
					t.Errorf("TooLargeError = %+v", te)
				}
			},
		},
		{
			name:  "YAML alias bomb",
			files: map[string]string{"app/bomb.yaml": aliasBomb},
			is:    build.ErrMalformedYAML, want: "app/bomb.yaml",
		},
		{
			name:  "YAML alias bomb listed in a kustomization",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- bomb.yaml\n", "app/bomb.yaml": aliasBomb},
			is:    build.ErrMalformedYAML, want: "app/bomb.yaml",
		},
		{
			name:  "YAML nested 100,000 deep",
			files: map[string]string{"app/deep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep, namespace: %s}\ndata: {k: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}\n"},
			is:    build.ErrMalformedYAML, want: "app/deep.yaml",
		},
		{
			name:  "kustomization that includes itself",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- .\n"},
			is:    build.ErrCycle, want: "app",
		},
		{
			name:  "kustomizations that include each other",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n- ../base\n", "base/kustomization.yaml": "resources:\n- ../app\n"},
			is:    build.ErrCycle, want: "base",
		},
		{
			name:  "exec KRM function",
			files: map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\ntransformers:\n- fn.yaml\n", "app/fn.yaml": "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n"},
			want:  "plugin",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("hostile-%d", i))
			ns := name
			good := map[string]string{"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1")}
			e := newEnv(t, c, name, good, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the hostile commit: %s", s)
			}
			files := map[string]string{"app/a.yaml": cmYAML(ns, "a", "2")}
			for p, content := range tt.files {
				if strings.Contains(content, "%s") {
					content = fmt.Sprintf(content, ns)
				}
				files[p] = content
			}
			e.commit(gitserver.CommitOptions{Files: files, Symlinks: tt.symlinks, Delete: []string{"app/b.yaml"}, Message: tt.name})
			before := e.snapshot()
			e.events.reset()

			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start := time.Now()
			s := e.run(r) // fails the test on a panic or a run past runTimeout
			took := time.Since(start)
			runtime.ReadMemStats(&m1)
			alloc := m1.TotalAlloc - m0.TotalAlloc
			t.Logf("hostile run: %v, %d MiB allocated", took.Round(time.Millisecond), alloc>>20)
			if took > hostileMaxTime {
				t.Errorf("the run took %v, more than %v", took, hostileMaxTime)
			}
			if alloc > hostileMaxAlloc {
				t.Errorf("the run allocated %d MiB, more than %d", alloc>>20, hostileMaxAlloc>>20)
			}
			u := unitStatus(t, s, "app")
			if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonBuildFailed {
				t.Errorf("unit %s (%s), want NotReady (BuildFailed)", u.Phase, u.Reason)
			}
			if !strings.Contains(u.Message, tt.want) {
				t.Errorf("message %q does not name %q", u.Message, tt.want)
			}
			errs := e.events.errs("app")
			if len(errs) == 0 {
				t.Fatal("no event carried the build error")
			}
			if tt.is != nil && !e.events.errorIs("app", tt.is) {
				t.Errorf("no event error matches %v: %v", tt.is, errs)
			}
			if tt.check != nil {
				tt.check(t, errs[len(errs)-1])
			}
			if e.events.reached("app", reconcile.StageApply, reconcile.StagePrune) {
				t.Error("the reconcile went on to apply or prune")
			}
			e.unchanged(before)
			e.check()

			fix := gitserver.CommitOptions{Files: merge(good, map[string]string{"app/a.yaml": cmYAML(ns, "a", "3")}), ReplaceAll: true, Message: "fix"}
			e.commit(fix)
			e.converge(r)
			if v, err := e.configMapValue(ns, "a"); v != "3" {
				t.Errorf("a = %q (%v) after the fix, want 3", v, err)
			}
		})
	}
}
