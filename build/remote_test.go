package build

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// TestKustomizeRemoteBases: with AllowRemoteBases, a kustomization may use
// a Git base (cloned by kustomize with git, read through the confined
// filesystem, and removed afterwards) and a remote file over HTTP; a Git
// base whose files escape their clone is still refused. Without the option
// both are refused before anything is fetched.
func TestKustomizeRemoteBases(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "bases")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"base/kustomization.yaml":   "resources: [cm.yaml]\n",
		"base/cm.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {k: v}\n",
		"escape/kustomization.yaml": "resources: [../../../../../../../../etc/hostname]\n",
		"link/kustomization.yaml":   "resources: [passwd.yaml]\n",
	}, Symlinks: map[string]string{"link/passwd.yaml": "/etc/passwd"}})
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-http}\n"))
	}))
	t.Cleanup(files.Close)
	gitBase := repo.HTTPURL() + "//base?ref=main"

	tmpBefore := kustomizeTempDirs(t)
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources:\n- " + gitBase + "\n- " + files.URL + "/cm.yaml\n",
	})
	if _, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{}); !errors.Is(err, ErrRemoteBase) {
		t.Fatalf("without AllowRemoteBases: %v, want ErrRemoteBase", err)
	}
	// Remote content is not part of the digest: such builds bypass the cache.
	cache := NewCache(0)
	objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{AllowRemoteBases: true, NamePrefix: "p-", Cache: cache, ArtifactDigest: "sha256:x"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	if got := strings.Join(names, ","); got != "p-from-git,p-from-http" {
		t.Errorf("objects %s, want p-from-git,p-from-http", got)
	}
	if after := kustomizeTempDirs(t); len(after) > len(tmpBefore) {
		t.Errorf("clone directories left behind: %v", after)
	}
	if st := cache.Stats(); st.Entries != 0 {
		t.Errorf("a build with remote bases was cached: %+v", st)
	}

	for _, base := range []string{"escape", "link"} {
		escaping := writeTree(t, map[string]string{
			"app/kustomization.yaml": "resources:\n- " + repo.HTTPURL() + "//" + base + "?ref=main\n",
		})
		_, err = Kustomize(t.Context(), escaping, "app", KustomizeOptions{AllowRemoteBases: true})
		if !errors.Is(err, ErrPathEscape) {
			t.Errorf("Git base %s escaping its clone: %v, want ErrPathEscape", base, err)
		}
		t.Logf("%s: %v", base, err)
	}
	if after := kustomizeTempDirs(t); len(after) > len(tmpBefore) {
		t.Errorf("clone directories left behind after failed builds: %v", after)
	}
}

func kustomizeTempDirs(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "kustomize-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
