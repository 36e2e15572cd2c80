package gitserver_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// listRefs prints the refs at url the way `git ls-remote` does.
func listRefs(ctx context.Context, url string) error {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name() < refs[j].Name() })
	for _, r := range refs {
		if r.Type() == plumbing.SymbolicReference {
			fmt.Printf("%s -> %s\n", r.Name(), r.Target())
			continue
		}
		fmt.Printf("%s %s\n", r.Name(), r.Hash())
	}
	return nil
}

// Serve a repository with a commit and a tag over HTTP, and list its refs
// with go-git. Commit IDs are the same on every run.
func Example() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	repo, err := srv.CreateRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	sha, err := repo.Commit(ctx, gitserver.CommitOptions{
		Message: "add config",
		Files:   map[string]string{"deploy/config.yaml": "replicas: 2\n"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := repo.Tag(ctx, "v1.0.0", sha); err != nil {
		fmt.Println(err)
		return
	}

	if err := listRefs(ctx, srv.HTTPURL("team/app")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests:", len(srv.HTTPRequests()))
	// Output:
	// HEAD -> refs/heads/main
	// refs/heads/main 89566d4cf052e2bc6c0e5e67561a646fe324c014
	// refs/tags/v1.0.0 89566d4cf052e2bc6c0e5e67561a646fe324c014
	// requests: 1
}

// Rewrite a branch the way a force push does: the new tip does not descend
// from the old one.
func ExampleRepo_ResetBranch() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo, err := srv.CreateRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}

	first, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	old, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	if err := repo.ResetBranch(ctx, "main", first); err != nil {
		fmt.Println(err)
		return
	}
	rewritten, err := repo.Commit(ctx, gitserver.CommitOptions{
		Files:  map[string]string{"b": "new"},
		Delete: []string{"a"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	parent, _ := repo.Resolve(ctx, rewritten+"^")
	fmt.Println("old tip replaced:", rewritten != old)
	fmt.Println("new tip grows from the first commit:", parent == first)
	// Output:
	// old tip replaced: true
	// new tip grows from the first commit: true
}

// Make every pack request fail with 502 while listing refs still works.
func ExampleServer_SetHTTPFault() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo, err := srv.CreateRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}}); err != nil {
		fmt.Println(err)
		return
	}

	srv.SetHTTPFault(func(r *http.Request) (int, bool) {
		return http.StatusBadGateway, r.Method == http.MethodPost
	})
	_, err = git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()})
	fmt.Println("clone failed:", err != nil)
	for _, r := range srv.HTTPRequests() {
		fmt.Println(r.Method, r.Path, r.Status)
	}
	// Output:
	// clone failed: true
	// GET /app.git/info/refs 200
	// POST /app.git/git-upload-pack 502
}
