package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// readmeRecipe returns the shell script of the README's CI recipe, with the
// command line it installs replaced by gitopskit.
func readmeRecipe(t *testing.T, gitopskit string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)In any CI, from the repository's checkout.*?:\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README: no shell script after \"In any CI, from the repository's checkout:\"")
	}
	const install = "go run github.com/gitopskit/gitopskit/cmd/gitopskit@latest"
	if !bytes.Contains(m[1], []byte(install)) {
		t.Fatalf("README's recipe does not run %q:\n%s", install, m[1])
	}
	return strings.ReplaceAll(string(m[1]), install, gitopskit)
}

// fleetRepo is a Flux repository with two clusters bootstrapped the way
// `flux bootstrap` lays them out: clusters/<env>/flux-system/gotk-sync.yaml
// (the GitRepository and the Kustomization of clusters/<env>), and an apps
// Kustomization of apps/<env> beside it.
func fleetRepo(url string, envs ...string) map[string]string {
	files := map[string]string{}
	for _, env := range envs {
		files["clusters/"+env+"/kustomization.yaml"] = "resources: [flux-system, apps.yaml]\n"
		files["clusters/"+env+"/flux-system/kustomization.yaml"] = "resources: [gotk-sync.yaml]\n"
		files["clusters/"+env+"/flux-system/gotk-sync.yaml"] = fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 1m
  url: %s
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/%s
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`, url, env)
		files["clusters/"+env+"/apps.yaml"] = fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps/%s
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`, env)
		files["apps/"+env+"/settings.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo-%s\ndata:\n  color: blue\n", env)
	}
	return files
}

// TestCIRecipe runs the README's CI recipe, as a CI job would, on a Flux
// repository of two clusters and a pull request that changes one of them:
// the script shows the change under its cluster, no change under the
// other, and exits 0 (changes are not a failure); a head that cannot be
// fetched fails it.
func TestCIRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command line from a shell script")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cli := filepath.Join(dir, "gitopskit")
	if err := os.WriteFile(cli, fmt.Appendf(nil, "#!/bin/sh\n%s=1 exec %q \"$@\"\n", runAsCLI, self), 0o755); err != nil {
		t.Fatal(err)
	}
	script := readmeRecipe(t, cli)

	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	files := fleetRepo(repo.HTTPURL(), "staging", "production")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "two clusters"})
	if _, err := repo.Branch(t.Context(), "pr-1", "main"); err != nil {
		t.Fatal(err)
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Branch: "pr-1", Message: "staging: green",
		Files: map[string]string{"apps/staging/settings.yaml": strings.Replace(files["apps/staging/settings.yaml"], "blue", "green", 1)}})

	// The checkout of the pull request's head.
	checkout := filepath.Join(dir, "checkout")
	for path, content := range files {
		p := filepath.Join(checkout, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secrets := filepath.Join(dir, "secrets") // the GitRepository has no secretRef
	if err := os.Mkdir(secrets, 0o755); err != nil {
		t.Fatal(err)
	}

	runRecipe := func(headRef string) (string, int) {
		cmd := exec.CommandContext(t.Context(), bash, "-c", script)
		cmd.Dir = checkout
		cmd.Env = append(os.Environ(), "BASE=main", "HEAD_REF="+headRef, "SECRETS_DIR="+secrets)
		out, err := cmd.CombinedOutput()
		t.Logf("the README's recipe with HEAD_REF=%s:\n%s", headRef, out)
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	out, code := runRecipe("pr-1")
	if code != 0 {
		t.Errorf("the recipe exited %d, want 0: changes are not a failure", code)
	}
	mustMatch(t, "recipe", out,
		`(?s)### production\n.*?diff: no changes\n### staging\n`,
		`(?m)^apps \(changed\)\n  ~ core/ConfigMap/demo-staging/settings\n      data\.color$`)
	if strings.Contains(out, "demo-production") {
		t.Error("the recipe shows a change on production, which the pull request does not touch")
	}

	if _, code := runRecipe("no-such-branch"); code != exitError {
		t.Errorf("a head that cannot be fetched: the recipe exited %d, want %d", code, exitError)
	}
}
