package build

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
)

// FuzzGenerateKustomization builds a directory tree from the fuzzer's input
// (a comma-separated list of paths, all given the same content; a path
// starting with "@" becomes a symlink to the content) and checks that the
// generator never panics, fails only with the errors it documents, and on
// success lists only existing files inside the directory.
func FuzzGenerateKustomization(f *testing.F) {
	f.Add("a.yaml,b/c.yml,b/kustomization.yaml,.hidden/x.yaml,n.txt", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	f.Add("a.yaml", []byte("kind: [\n"))
	f.Add("@link.yaml,x/y/z.yaml", []byte("../../etc/passwd"))
	f.Add("@loop.yaml", []byte("loop.yaml"))
	f.Add("a.yaml", []byte("a: &a [x, x]\nb: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, names string, content []byte) {
		dir := t.TempDir()
		unit := filepath.Join(dir, "unit")
		if err := os.Mkdir(unit, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range strings.Split(names, ",") {
			link := strings.HasPrefix(n, "@")
			n = path.Clean("/" + strings.TrimPrefix(n, "@"))[1:]
			if n == "" || strings.ContainsRune(n, 0) || len(n) > 200 {
				continue
			}
			p := filepath.Join(unit, filepath.FromSlash(n))
			if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
				continue
			}
			if link {
				_ = os.Symlink(string(content), p)
			} else {
				_ = os.WriteFile(p, content, 0o644)
			}
		}
		out, err := GenerateKustomization(dir, "unit", Limits{MaxFileSize: 1 << 16})
		if err != nil {
			var ye *YAMLError
			var pe *PathEscapeError
			var te *TooLargeError
			var pathErr *fs.PathError
			if !errors.As(err, &ye) && !errors.As(err, &pe) && !errors.As(err, &te) && !errors.As(err, &pathErr) {
				t.Fatalf("undocumented error %T: %v", err, err)
			}
			return
		}
		var k types.Kustomization
		if err := k.Unmarshal(out); err != nil {
			t.Fatalf("generated kustomization does not parse: %v\n%s", err, out)
		}
		for _, r := range k.Resources {
			if path.IsAbs(r) || strings.HasPrefix(path.Clean(r), "..") {
				t.Fatalf("resource %q leaves the directory", r)
			}
			if _, err := os.Stat(filepath.Join(unit, filepath.FromSlash(r))); err != nil {
				t.Fatalf("resource %q: %v", r, err)
			}
		}
	})
}
