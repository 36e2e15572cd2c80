package gitopstest_test

import (
	"bytes"
	"encoding/json"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// TestKitEndToEnd proves the kit: a repository served over HTTP and SSH is
// cloned with go-git, and the ConfigMap it holds is server-side applied to
// the real API server and read back.
func TestKitEndToEnd(t *testing.T) {
	key := gitopstest.NewSSHKey(t)
	srv := gitopstest.StartGitServer(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := gitopstest.NewGitRepo(t, srv, "config")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\n  namespace: default\ndata:\n  revision: \"1\"\n",
	}})
	sha := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\n  namespace: default\ndata:\n  revision: \"2\"\n",
	}})
	dyn := dynamic.NewForConfigOrDie(cluster(t).Config)
	cms := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

	for _, tt := range []struct {
		name, url, manager string
		auth               transport.AuthMethod
	}{
		{"http", repo.HTTPURL(), "kit-http", nil},
		{"ssh", repo.SSHURL(), "kit-ssh", gitopstest.GitSSHAuth(t, srv, key)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			r, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: tt.url, Auth: tt.auth, Depth: 1})
			if err != nil {
				t.Fatal(err)
			}
			head, err := r.Head()
			if err != nil || head.Hash().String() != sha {
				t.Fatalf("HEAD %v (%v), want %s", head, err, sha)
			}
			commit, err := r.CommitObject(head.Hash())
			if err != nil {
				t.Fatal(err)
			}
			f, err := commit.File("app/cm.yaml")
			if err != nil {
				t.Fatal(err)
			}
			content, err := f.Contents()
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(content)), 4096).Decode(&obj.Object); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dyn.Resource(cms).Namespace("default").Patch(ctx, "from-git", types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: tt.manager, Force: new(true)}); err != nil {
				t.Fatalf("server-side apply: %v", err)
			}
			got, err := dyn.Resource(cms).Namespace("default").Get(ctx, "from-git", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v, _, _ := unstructured.NestedString(got.Object, "data", "revision"); v != "2" {
				t.Errorf("data.revision = %q, want 2", v)
			}
			managers := map[string]bool{}
			for _, m := range got.GetManagedFields() {
				managers[m.Manager] = true
			}
			if !managers[tt.manager] {
				t.Errorf("field manager %s missing from %v", tt.manager, managers)
			}
		})
	}
}
