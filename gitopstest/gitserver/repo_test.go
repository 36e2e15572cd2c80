package gitserver_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// openLocal opens a builder repository directly from disk with go-git.
func openLocal(t *testing.T, r *gitserver.Repo) *git.Repository {
	t.Helper()
	g, err := git.PlainOpen(r.Dir())
	if err != nil {
		t.Fatalf("open %s: %v", r.Dir(), err)
	}
	return g
}

func TestCommitIsDeterministic(t *testing.T) {
	build := func(t *testing.T) []string {
		srv := start(t, gitserver.Options{})
		r := createRepo(t, srv, "app")
		return []string{
			commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "1"}}),
			commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "2"}, Message: "second"}),
			commit(t, r, gitserver.CommitOptions{Branch: "other", Files: map[string]string{"b": "3"}}),
		}
	}
	first, second := build(t), build(t)
	if strings.Join(first, " ") != strings.Join(second, " ") {
		t.Fatalf("same calls, different commits:\n%v\n%v", first, second)
	}

	// The times follow the documented default clock.
	srv := start(t, gitserver.Options{})
	r := createRepo(t, srv, "app")
	root := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	child := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	g := openLocal(t, r)
	for sha, want := range map[string]time.Time{
		root:  gitserver.DefaultTime(),
		child: gitserver.DefaultTime().Add(gitserver.DefaultTimeStep),
	} {
		c, err := g.CommitObject(plumbing.NewHash(sha))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Author.When.Equal(want) || !c.Committer.When.Equal(want) {
			t.Errorf("commit %s: author %s committer %s, want %s", sha, c.Author.When, c.Committer.When, want)
		}
		if c.Author.Name != gitserver.DefaultName || c.Author.Email != gitserver.DefaultEmail {
			t.Errorf("commit %s author = %s <%s>", sha, c.Author.Name, c.Author.Email)
		}
	}
}

func TestCommitSignatures(t *testing.T) {
	srv := start(t, gitserver.Options{})
	r := createRepo(t, srv, "app")
	zone := time.FixedZone("CEST", 2*60*60)
	authored := time.Date(2025, 6, 1, 12, 0, 0, 0, zone)
	committed := authored.Add(time.Hour)
	sha := commit(t, r, gitserver.CommitOptions{
		Files:     map[string]string{"a": "1"},
		Message:   "subject\n\nbody\n",
		Author:    gitserver.Signature{Name: "Ada", Email: "ada@example.com", When: authored},
		Committer: gitserver.Signature{Name: "Bot", When: committed},
	})
	c, err := openLocal(t, r).CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	if c.Author.Name != "Ada" || c.Author.Email != "ada@example.com" || !c.Author.When.Equal(authored) {
		t.Errorf("author = %+v", c.Author)
	}
	if _, off := c.Author.When.Zone(); off != 2*60*60 {
		t.Errorf("author zone offset = %d, want +0200", off)
	}
	// Committer fields not given come from the author.
	if c.Committer.Name != "Bot" || c.Committer.Email != "ada@example.com" || !c.Committer.When.Equal(committed) {
		t.Errorf("committer = %+v", c.Committer)
	}
	if c.Message != "subject\n\nbody\n" {
		t.Errorf("message = %q", c.Message)
	}
	// The next default time follows the parent's committer time.
	next := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	c, err = openLocal(t, r).CommitObject(plumbing.NewHash(next))
	if err != nil {
		t.Fatal(err)
	}
	if want := committed.Add(gitserver.DefaultTimeStep); !c.Committer.When.Equal(want) {
		t.Errorf("next commit time = %s, want %s", c.Committer.When, want)
	}
}

func TestCommitTreeEdits(t *testing.T) {
	srv := start(t, gitserver.Options{})
	r := createRepo(t, srv, "app")
	g := func() *git.Repository { return openLocal(t, r) }

	// go-git refuses control characters in paths; TestControlCharacterPath
	// covers those with git itself.
	odd := "dir with space/quote\"back\\slash-ü.txt"
	tests := []struct {
		name string
		opts gitserver.CommitOptions
		want map[string]string
	}{
		{
			name: "files, executables, symlinks",
			opts: gitserver.CommitOptions{
				Files:       map[string]string{"a.txt": "a", "dir/b.yaml": "b: 1\n", odd: "odd", "empty": ""},
				Executables: map[string]string{"bin/run.sh": "#!/bin/sh\n"},
				Symlinks:    map[string]string{"link": "dir/b.yaml", "evil": "../../../../etc/passwd"},
			},
			want: map[string]string{
				"a.txt": regular + "a", "dir/b.yaml": regular + "b: 1\n", odd: regular + "odd", "empty": regular,
				"bin/run.sh": executable + "#!/bin/sh\n",
				"link":       symlink + "dir/b.yaml", "evil": symlink + "../../../../etc/passwd",
			},
		},
		{
			name: "modify and delete files and directories",
			opts: gitserver.CommitOptions{
				Files:  map[string]string{"a.txt": "changed"},
				Delete: []string{"dir", "evil", "bin/run.sh", odd},
			},
			want: map[string]string{
				"a.txt": regular + "changed", "empty": regular, "link": symlink + "dir/b.yaml",
			},
		},
		{
			name: "replace all",
			opts: gitserver.CommitOptions{ReplaceAll: true, Files: map[string]string{"only.txt": "only"}},
			want: map[string]string{"only.txt": regular + "only"},
		},
	}
	var parent string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sha := commit(t, r, tt.opts)
			wantParent := parent
			parent = sha
			if d := diffMaps(treeFiles(t, g(), sha), tt.want); d != "" {
				t.Errorf("tree:\n%s", d)
			}
			c, err := g().CommitObject(plumbing.NewHash(sha))
			if err != nil {
				t.Fatal(err)
			}
			var parents []string
			for _, p := range c.ParentHashes {
				parents = append(parents, p.String())
			}
			if strings.Join(parents, ",") != wantParent {
				t.Errorf("parents = %v, want [%s]", parents, wantParent)
			}
		})
	}
}

func TestControlCharacterPath(t *testing.T) {
	srv := start(t, gitserver.Options{})
	r := createRepo(t, srv, "app")
	path := "new\nline\ttab\x01.txt"
	sha := commit(t, r, gitserver.CommitOptions{Files: map[string]string{path: "x"}})
	cmd := exec.CommandContext(t.Context(), srv.GitPath(), "ls-tree", "-r", "-z", "--name-only", sha)
	cmd.Env = []string{"GIT_DIR=" + r.Dir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-tree: %v", err)
	}
	if got := string(out); got != path+"\x00" {
		t.Errorf("tree paths = %q, want %q", got, path+"\x00")
	}
}

func TestRefs(t *testing.T) {
	srv := start(t, gitserver.Options{})
	r := createRepo(t, srv, "app")
	ctx := t.Context()
	c1 := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	c2 := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})

	if got, err := r.Branch(ctx, "feature", "main~1"); err != nil || got != c1 {
		t.Errorf("Branch = %s, %v; want %s", got, err, c1)
	}
	if _, err := r.Branch(ctx, "feature", "main"); err == nil {
		t.Error("Branch over an existing branch succeeded")
	}
	if got, err := r.Tag(ctx, "v1", c2); err != nil || got != c2 {
		t.Errorf("Tag = %s, %v; want %s", got, err, c2)
	}
	if _, err := r.Tag(ctx, "v1", c1); err == nil {
		t.Error("Tag over an existing tag succeeded")
	}

	// Annotated tags peel to their commit and can be moved with Force.
	tag1, err := r.AnnotatedTag(ctx, gitserver.AnnotatedTagOptions{Name: "v2", Rev: c1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AnnotatedTag(ctx, gitserver.AnnotatedTagOptions{Name: "v2", Rev: c2}); err == nil {
		t.Error("AnnotatedTag over an existing tag succeeded without Force")
	}
	tag2, err := r.AnnotatedTag(ctx, gitserver.AnnotatedTagOptions{Name: "v2", Rev: c2, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if tag1 == tag2 || tag1 == c1 {
		t.Errorf("tag objects %s, %s should differ from each other and from commit %s", tag1, tag2, c1)
	}
	if got, err := r.Resolve(ctx, "v2"); err != nil || got != c2 {
		t.Errorf("Resolve(v2) = %s, %v; want %s", got, err, c2)
	}

	// ResetBranch rewinds a branch the way a force push does, and the next
	// commit grows from there.
	if err := r.ResetBranch(ctx, "main", c1); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Head(ctx, "main"); err != nil || got != c1 {
		t.Errorf("Head after reset = %s, %v; want %s", got, err, c1)
	}
	c3 := commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "3"}})
	if got, err := r.Resolve(ctx, c3+"^"); err != nil || got != c1 {
		t.Errorf("parent after force reset = %s, %v; want %s", got, err, c1)
	}
	if got, err := r.Resolve(ctx, c2); err != nil || got != c2 {
		t.Errorf("the rewritten-away commit should still resolve: %s, %v", got, err)
	}

	// Default branch.
	if err := r.SetDefaultBranch(ctx, "feature"); err != nil {
		t.Fatal(err)
	}
	refs, err := lsRemote(ctx, r.HTTPURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if refs["HEAD"] != "refs/heads/feature" {
		t.Errorf("HEAD = %q, want refs/heads/feature", refs["HEAD"])
	}

	// Deleting, and not-found errors.
	if err := r.DeleteBranch(ctx, "feature"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteTag(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"DeleteBranch missing": r.DeleteBranch(ctx, "feature"),
		"DeleteTag missing":    r.DeleteTag(ctx, "v2"),
		"Resolve missing":      func() error { _, err := r.Resolve(ctx, "nope"); return err }(),
		"Head missing":         func() error { _, err := r.Head(ctx, "feature"); return err }(),
		"Branch from missing":  func() error { _, err := r.Branch(ctx, "x", "nope"); return err }(),
	} {
		if !errors.Is(err, gitserver.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	srv := start(t, gitserver.Options{})
	ctx := t.Context()
	r := createRepo(t, srv, "app")
	commit(t, r, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	for _, name := range []string{"", "/abs", "../up", "a/../../up", "a//b", "-flag", "a\nb", ".git"} {
		if _, err := srv.CreateRepo(ctx, name); err == nil {
			t.Errorf("CreateRepo(%q) succeeded", name)
		}
	}
	if _, err := srv.CreateRepo(ctx, "app.git"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateRepo of an existing repo: %v, want fs.ErrExist", err)
	}
	if _, err := srv.OpenRepo("missing"); !errors.Is(err, gitserver.ErrNotFound) {
		t.Errorf("OpenRepo(missing): %v, want ErrNotFound", err)
	}
	if opened, err := srv.OpenRepo("app"); err != nil {
		t.Errorf("OpenRepo(app): %v", err)
	} else if head, err := opened.Head(ctx, "main"); err != nil || len(head) != 40 {
		t.Errorf("Head of opened repo = %q, %v", head, err)
	}

	tests := []struct {
		name string
		opts gitserver.CommitOptions
	}{
		{"branch with space", gitserver.CommitOptions{Branch: "a b"}},
		{"branch with newline", gitserver.CommitOptions{Branch: "main\nreset refs/heads/x"}},
		{"branch with dot-dot", gitserver.CommitOptions{Branch: "a..b"}},
		{"full ref as branch", gitserver.CommitOptions{Branch: "refs/heads/main"}},
		{"absolute path", gitserver.CommitOptions{Files: map[string]string{"/etc/passwd": "x"}}},
		{"empty path", gitserver.CommitOptions{Files: map[string]string{"": "x"}}},
		{"path given twice", gitserver.CommitOptions{Files: map[string]string{"a": "x"}, Symlinks: map[string]string{"a": "b"}}},
		{"identity with angle bracket", gitserver.CommitOptions{Author: gitserver.Signature{Name: "a <b>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := r.Head(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			if sha, err := r.Commit(ctx, tt.opts); err == nil {
				t.Fatalf("Commit succeeded: %s", sha)
			}
			if after, err := r.Head(ctx, "main"); err != nil || after != before {
				t.Errorf("main moved from %s to %s (%v) on a failed commit", before, after, err)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name string
		opts gitserver.Options
		want string
	}{
		{"missing git", gitserver.Options{GitPath: "/nonexistent/git"}, "/nonexistent/git"},
		{"missing root", gitserver.Options{Root: "/nonexistent/root"}, "root dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := gitserver.Start(t.Context(), tt.opts)
			if err == nil {
				srv.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
