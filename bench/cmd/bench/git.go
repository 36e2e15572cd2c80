package main

import (
	"context"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

const (
	scGitClone = "7a. Git first clone"
	scGitNoop  = "7b. Git no-op check"
	scGitIncr  = "7c. Git one new commit"
)

const (
	gitSource      = "gitopskit source.Fetch (Cache)"
	gitClone       = "git clone --depth 1"
	gitFetch       = "git fetch --depth 1 (+ reset --hard)"
	gitLsRemote    = "git ls-remote"
	gitRepoFiles   = 3000
	gitRepoCommits = 300
)

// gitScenario measures, on a generated repository of ~3,000 files and a few
// hundred commits served by `git http-backend` on loopback: the first
// clone, the "has it moved?" check when nothing changed, and getting one
// new commit. Request counts are HTTP requests the Git server saw.
func (b *bench) gitScenario(ctx context.Context) error {
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Printf("generating a repository of %d files and %d commits", gitRepoFiles, gitRepoCommits)
	repo, err := srv.CreateRepo(ctx, "bench")
	if err != nil {
		return err
	}
	files := make(map[string]string, gitRepoFiles)
	for i := range gitRepoFiles {
		files[fmt.Sprintf("dir%02d/file%04d.yaml", i%20, i)] = strings.Repeat(fmt.Sprintf("key%d: v0-%d\n", i, i), 20)
	}
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Files: files}); err != nil {
		return err
	}
	next := 1
	commit := func() error {
		i := next
		next++
		a, b := (i*37)%gitRepoFiles, (i*53+7)%gitRepoFiles
		_, err := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{
			fmt.Sprintf("dir%02d/file%04d.yaml", a%20, a): fmt.Sprintf("rev: %d\n", i),
			fmt.Sprintf("dir%02d/file%04d.yaml", b%20, b): fmt.Sprintf("rev: %d\n", i),
		}})
		return err
	}
	for next < gitRepoCommits {
		if err := commit(); err != nil {
			return err
		}
	}
	url := repo.HTTPURL()
	gitBin := srv.GitPath()
	b.res.notes[gitSource] = "source.Fetch(url, Options{Cache: source.NewCache(dir), LastRevision}): shallow bare clone + artifact written by the package"
	b.res.notes[gitClone] = "`git clone --depth 1 --quiet <url> <dir>` (git " + strings.TrimPrefix(b.info.git, "git: git version ") + ")"
	b.res.notes[gitFetch] = "in the clone made by git clone --depth 1: `git fetch --depth 1 origin main` then `git reset --hard FETCH_HEAD` (for a no-op: the fetch alone)"
	b.res.notes[gitLsRemote] = "`git ls-remote <url> refs/heads/main`"

	b.res.order("git", gitSource, gitClone, gitFetch, gitLsRemote)
	measureGit := func(scenario, name string, keep bool, fn func() (sample, error)) error {
		srv.ResetRequests()
		s, err := fn()
		if err != nil {
			return fmt.Errorf("%s, %s: %w", scenario, name, err)
		}
		s.requests = requestCounts{}
		for _, r := range srv.HTTPRequests() {
			s.requests[strings.ToLower(r.Method)+" "+strings.TrimPrefix(r.Service, "git-")]++
		}
		tag := "warm-up"
		if keep {
			tag = "kept"
			b.res.add(scenario, name, gitRepoFiles, s)
		}
		log.Printf("%-36s %-28s %8.3fs  %d HTTP requests (%s)", name, scenario, s.dur.Seconds(), s.requests.total(), tag)
		return nil
	}
	git := func(dir string, args ...string) (sample, error) {
		res, err := runCmd(ctx, dir, []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}, gitBin, args...)
		return sample{dur: res.dur, peakMem: res.maxRSS, extProc: true}, err
	}

	for r := range b.cfg.warmup + b.cfg.reps {
		keep := r >= b.cfg.warmup
		root := filepath.Join(b.work, fmt.Sprintf("git-r%d", r))
		cache, err := source.NewCache(filepath.Join(root, "cache"))
		if err != nil {
			return err
		}
		clone := filepath.Join(root, "clone")
		var rev string

		// 7a: first clone.
		first := []func() error{
			func() error {
				return measureGit(scGitClone, gitSource, keep, func() (sample, error) {
					var res *source.Result
					s, err := measureInProcess(func() (err error) {
						res, err = source.Fetch(ctx, url, source.Options{Cache: cache})
						return err
					})
					if err == nil {
						rev = res.Revision
						err = checkArtifact(res.Artifact.Dir, gitRepoFiles)
					}
					return s, err
				})
			},
			func() error {
				return measureGit(scGitClone, gitClone, keep, func() (sample, error) {
					s, err := git("", "clone", "--depth", "1", "--quiet", url, clone)
					if err == nil {
						err = checkArtifact(clone, gitRepoFiles)
					}
					return s, err
				})
			},
		}
		// 7b: nothing changed.
		noop := []func() error{
			func() error {
				return measureGit(scGitNoop, gitSource, keep, func() (sample, error) {
					var res *source.Result
					s, err := measureInProcess(func() (err error) {
						res, err = source.Fetch(ctx, url, source.Options{Cache: cache, LastRevision: rev})
						return err
					})
					if err == nil && !res.Unchanged {
						err = fmt.Errorf("source.Fetch: not Unchanged")
					}
					return s, err
				})
			},
			func() error {
				return measureGit(scGitNoop, gitFetch, keep, func() (sample, error) {
					return git(clone, "fetch", "--depth", "1", "--quiet", "origin", "main")
				})
			},
			func() error {
				return measureGit(scGitNoop, gitLsRemote, keep, func() (sample, error) {
					return git("", "ls-remote", url, "refs/heads/main")
				})
			},
		}
		// 7c: one new commit (made before, not measured).
		fresh := filepath.Join(root, "fresh")
		incr := []func() error{
			func() error {
				return measureGit(scGitIncr, gitSource, keep, func() (sample, error) {
					var res *source.Result
					s, err := measureInProcess(func() (err error) {
						res, err = source.Fetch(ctx, url, source.Options{Cache: cache, LastRevision: rev})
						return err
					})
					if err == nil && (res.Unchanged || res.Revision == rev) {
						err = fmt.Errorf("source.Fetch did not see the new commit")
					}
					if err == nil {
						err = checkArtifact(res.Artifact.Dir, gitRepoFiles)
					}
					return s, err
				})
			},
			func() error {
				return measureGit(scGitIncr, gitFetch, keep, func() (sample, error) {
					s, err := git(clone, "fetch", "--depth", "1", "--quiet", "origin", "main")
					if err != nil {
						return s, err
					}
					s2, err := git(clone, "reset", "--hard", "--quiet", "FETCH_HEAD")
					s.dur += s2.dur
					s.peakMem = max(s.peakMem, s2.peakMem)
					return s, err
				})
			},
			func() error {
				return measureGit(scGitIncr, gitClone, keep, func() (sample, error) {
					s, err := git("", "clone", "--depth", "1", "--quiet", url, fresh)
					if err == nil {
						err = checkArtifact(fresh, gitRepoFiles)
					}
					return s, err
				})
			},
		}
		for _, group := range [][]func() error{first, noop} {
			for i := range group {
				if err := group[(i+r)%len(group)](); err != nil {
					return err
				}
			}
		}
		if err := commit(); err != nil {
			return err
		}
		for i := range incr {
			if err := incr[(i+r)%len(incr)](); err != nil {
				return err
			}
		}
		if err := removeAll(root); err != nil {
			return err
		}
	}
	return nil
}

// checkArtifact checks that dir holds want regular files outside .git.
func checkArtifact(dir string, want int) error {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%s has %d files, want %d", dir, n, want)
	}
	return nil
}

// removeAll removes a tree that may hold read-only directories (source's
// cached artifacts).
func removeAll(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
