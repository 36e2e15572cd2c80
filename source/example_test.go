package source_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// exampleRepo starts a local Git server with one repository: two commits
// on main and a tag v1.0.0 on the first. The commits are deterministic.
func exampleRepo(ctx context.Context) (*gitserver.Server, *gitserver.Repo, error) {
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return nil, nil, err
	}
	repo, err := srv.CreateRepo(ctx, "team/app")
	if err == nil {
		var first string
		first, err = repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{
			"deploy/app.yaml": "replicas: 1\n", "README.md": "docs\n", ".sourceignore": "*.md\n",
		}})
		if err == nil {
			_, err = repo.Tag(ctx, "v1.0.0", first)
		}
		if err == nil {
			_, err = repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"deploy/app.yaml": "replicas: 2\n"}})
		}
	}
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, repo, nil
}

// Fetch the default branch into a cache, then ask again with the revision
// seen: the second call costs one request, reports Unchanged and hands out
// the cached artifact again.
func ExampleFetch() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "source-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	cache, err := source.NewCache(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{Cache: cache})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := res.Artifact
	fmt.Println("revision:", a.Revision)
	fmt.Println("digest:", a.Digest)
	b, _ := os.ReadFile(filepath.Join(a.Dir, "deploy", "app.yaml"))
	fmt.Printf("deploy/app.yaml: %s", b)
	_, err = os.Stat(filepath.Join(a.Dir, "README.md"))
	fmt.Println("README.md ignored:", os.IsNotExist(err))

	res, err = source.Fetch(ctx, repo.HTTPURL(), source.Options{Cache: cache, LastRevision: a.Revision})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The cache still holds the artifact: it comes back without a fetch.
	fmt.Println("unchanged:", res.Unchanged, res.Artifact.Dir == a.Dir, res.Artifact.Digest == a.Digest)
	// Output:
	// revision: main@sha1:a5854f1d8073c3283c9af9b913e5ce04afffdf86
	// digest: sha256:fd0006c3d9a066ddc934310f638477abd324f6ab9b95872201caa5939ea0a286
	// deploy/app.yaml: replicas: 2
	// README.md ignored: true
	// unchanged: true true true
}

// Pick the highest tag in a semantic version range, without a cache.
func ExampleFetch_semVer() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "source-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	res, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{
		Ref: source.Ref{SemVer: ">=1.0.0 <2.0.0"},
		Dir: dir,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Artifact.Revision)
	b, _ := os.ReadFile(filepath.Join(dir, "deploy", "app.yaml"))
	fmt.Printf("%s", b)
	// Output:
	// v1.0.0@sha1:94ab024b964fd348f33c271bd9859b0e459c6cbd
	// replicas: 1
}

// Ask which commit a branch is at, without fetching anything.
func ExampleResolve() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	rev, err := source.Resolve(ctx, repo.HTTPURL(), source.Ref{Branch: "main"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rev)
	_, err = source.Resolve(ctx, repo.HTTPURL(), source.Ref{Branch: "nope"}, nil)
	fmt.Println(errors.Is(err, source.ErrRefNotFound))
	// Output:
	// main@sha1:a5854f1d8073c3283c9af9b913e5ce04afffdf86
	// true
}

// Build credentials from the data of a Kubernetes Secret.
func ExampleAuthFromSecretData() {
	auth, err := source.AuthFromSecretData(map[string][]byte{
		"identity":    []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n..."),
		"known_hosts": []byte("github.com ssh-ed25519 AAAA..."),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(auth)
	// Output:
	// [ssh-key known-hosts]
}

func ExampleParseRevision() {
	for _, rev := range []string{
		"main@sha1:0123456789abcdef0123456789abcdef01234567",
		"refs/pull/1/head@sha1:0123456789abcdef0123456789abcdef01234567",
		"sha1:0123456789abcdef0123456789abcdef01234567",
	} {
		ref, commit, err := source.ParseRevision(rev)
		fmt.Printf("%q %s %v\n", ref, commit[:7], err)
	}
	// Output:
	// "main" 0123456 <nil>
	// "refs/pull/1/head" 0123456 <nil>
	// "" 0123456 <nil>
}

// The digest depends on paths, contents, the executable bit and symlink
// targets only.
func ExampleDirDigest() {
	dir, err := os.MkdirTemp("", "digest-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("replicas: 1\n"), 0o644)
	_ = os.Symlink("app.yaml", filepath.Join(dir, "link"))

	digest, size, err := source.DirDigest(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(digest, size)
	// Output:
	// sha256:63db49886be2c1783cd302e7424a8c06d23be96caaf19891c5d8ce831610f75d 12
}

// Remove the artifacts no fetch has handed out for a while; the clones
// stay, so the next fetch of a pruned revision transfers nothing.
func ExampleCache_Prune() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "source-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cache, err := source.NewCache(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{Cache: cache}); err != nil {
		fmt.Println(err)
		return
	}

	removed, err := cache.Prune(ctx, time.Hour)
	fmt.Println("older than an hour:", removed, err)
	removed, err = cache.Prune(ctx, 0)
	fmt.Println("all:", removed, err)

	res, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{Cache: cache})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("bytes fetched again:", res.FetchedBytes)
	// Output:
	// older than an hour: 0 <nil>
	// all: 1 <nil>
	// bytes fetched again: 0
}

// A Ref names what to fetch; when several fields are set, the most precise
// wins (commit > name > semver > tag > branch), and String says which.
// Validate checks it without the remote.
func ExampleRef() {
	refs := []source.Ref{
		{},
		{Branch: "main"},
		{Branch: "main", Tag: "v1.2.0"},
		{Tag: "v1.2.0", SemVer: ">=1.0.0 <2.0.0"},
		{Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"},
		{SemVer: "not a range"},
		{Commit: "0123abc"},
	}
	for _, r := range refs {
		err := r.Validate()
		fmt.Printf("%s: valid %v\n", r, err == nil)
		if err != nil && !errors.Is(err, source.ErrInvalid) {
			fmt.Println("unexpected error type")
		}
	}
	// Output:
	// default branch: valid true
	// branch "main": valid true
	// tag "v1.2.0": valid true
	// semver ">=1.0.0 <2.0.0": valid true
	// commit 0123456789abcdef0123456789abcdef01234567 on branch "main": valid true
	// semver "not a range": valid false
	// commit 0123abc: valid false
}

// Auth's String says which credentials are set, never their values, so it
// is safe in logs.
func ExampleAuth_String() {
	var anonymous *source.Auth
	fmt.Println(anonymous)
	fmt.Println(&source.Auth{Username: "bot", Password: "s3cret"})
	fmt.Println(&source.Auth{BearerToken: "t0ken"})
	// Output:
	// anonymous
	// [basic]
	// [bearer]
}

// A Cache lives in a directory of the caller's choosing; reuse it across
// fetches and processes so that unchanged revisions cost one request.
func ExampleCache_Dir() {
	dir, err := os.MkdirTemp("", "source-cache-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cache, err := source.NewCache(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cache.Dir() == dir)
	// Output: true
}

// VerifyMode names what a Verification checks.
func ExampleVerifyMode_String() {
	fmt.Println(source.VerifyHead, source.VerifyTag)
	// Output: HEAD Tag
}

// Compose a tree out of a monorepo the way Flux's ArtifactGenerator makes
// an ExternalArtifact: the shared bases and one environment's overlays,
// side by side, without the environment's README.
func ExampleCompose() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo, err := srv.CreateRepo(ctx, "monorepo")
	if err == nil {
		_, err = repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{
			"apps/base/web/kustomization.yaml":   "resources: [deployment.yaml]\n",
			"apps/base/web/deployment.yaml":      "kind: Deployment\n",
			"apps/staging/kustomization.yaml":    "resources: [../base/web]\n",
			"apps/staging/README.md":             "staging notes\n",
			"apps/production/kustomization.yaml": "resources: [../base/web]\n",
		}})
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	tmp, err := os.MkdirTemp("", "compose-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	res, err := source.Fetch(ctx, repo.HTTPURL(), source.Options{Dir: filepath.Join(tmp, "checkout")})
	if err != nil {
		fmt.Println(err)
		return
	}
	staging, err := source.Compose(ctx, res.Artifact, filepath.Join(tmp, "staging"), []source.Copy{
		{From: "apps/base/**", To: "base/"},
		{From: "apps/staging/**", To: "staging/", Exclude: []string{"*.md"}},
	}, source.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = filepath.WalkDir(staging.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(staging.Dir, p)
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})
	fmt.Println("same revision:", staging.Revision == res.Artifact.Revision)
	// Output:
	// base/web/deployment.yaml
	// base/web/kustomization.yaml
	// staging/kustomization.yaml
	// same revision: true
}

// Fetch an artifact pushed as `flux push artifact` does from an OCI
// registry, picking the highest tag in a semver range; then ask again with
// the revision seen, which costs one request and fetches nothing.
func ExampleFetchOCI() {
	ctx := context.Background()
	reg, err := chartrepo.StartRegistry(ctx, chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	for tag, replicas := range map[string]string{"v1.0.0": "1", "v1.1.0": "3", "v2.0.0": "5"} {
		layer, err := chartrepo.FluxLayer(map[string]string{"deploy/app.yaml": "replicas: " + replicas + "\n", "README.md": "docs\n"})
		if err == nil {
			_, err = reg.PushArtifact(ctx, "manifests/app", tag, layer)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	dir, err := os.MkdirTemp("", "source-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cache, err := source.NewCache(dir)
	if err != nil {
		fmt.Println(err)
		return
	}

	opts := source.OCIOptions{
		Ref:       source.OCIRef{SemVer: "1.x"},
		Ignore:    []string{"*.md"},
		PlainHTTP: true, // the test registry speaks plain HTTP on 127.0.0.1
		Cache:     cache,
	}
	res, err := source.FetchOCI(ctx, reg.URL()+"/manifests/app", opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	tag, _, _ := strings.Cut(res.Revision, "@")
	app, _ := os.ReadFile(filepath.Join(res.Artifact.Dir, "deploy", "app.yaml"))
	_, readme := os.Stat(filepath.Join(res.Artifact.Dir, "README.md"))
	fmt.Printf("%s: %s", tag, app)
	fmt.Println("README ignored:", errors.Is(readme, fs.ErrNotExist))

	opts.LastRevision = res.Revision
	again, err := source.FetchOCI(ctx, reg.URL()+"/manifests/app", opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("unchanged:", again.Unchanged, "same artifact:", again.Artifact.Dir == res.Artifact.Dir)
	// Output:
	// v1.1.0: replicas: 3
	// README ignored: true
	// unchanged: true same artifact: true
}
