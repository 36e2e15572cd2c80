package build

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// remoteFixture is a loopback Git server with a repository of bases and a
// loopback HTTP server of files, counting the requests each receives.
type remoteFixture struct {
	git    *gitserver.Server
	repo   *gitserver.Repo
	files  *httptest.Server
	hits   atomic.Int64
	commit string // main's commit
}

const (
	gitCM    = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {k: v}\n"
	httpCM   = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-http}\n"
	nestedCM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\n"
)

func newRemoteFixture(t *testing.T) *remoteFixture {
	t.Helper()
	fx := &remoteFixture{}
	// The server's own git runs are not the build's: name the real git
	// (looked up before watchNetwork puts a logging git first in PATH), so
	// that the logging git sees only the build's.
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	fx.git = gitopstest.StartGitServer(t, gitserver.Options{GitPath: realGit})
	fx.repo = gitopstest.NewGitRepo(t, fx.git, "bases")
	fx.files = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.hits.Add(1)
		switch r.URL.Path {
		case "/cm.yaml":
			w.Write([]byte(httpCM))
		case "/nested.yaml":
			w.Write([]byte(nestedCM))
		case "/patch.yaml":
			w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {patched: \"yes\"}\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(fx.files.Close)
	sha := gitopstest.GitCommit(t, fx.repo, gitserver.CommitOptions{Files: map[string]string{
		"base/kustomization.yaml":   "resources: [cm.yaml]\n",
		"base/cm.yaml":              gitCM,
		"nested/kustomization.yaml": "resources:\n- ../base\n- " + fx.files.URL + "/nested.yaml\n",
		"deep/kustomization.yaml":   "resources:\n- " + fx.repo.HTTPURL() + "//nested?ref=main\n",
		"escape/kustomization.yaml": "resources: [../../../../../../../../etc/hostname]\n",
		"link/kustomization.yaml":   "resources: [passwd.yaml]\n",
		"big/kustomization.yaml":    "resources: [cm.yaml]\n",
		"big/cm.yaml":               gitCM + "# " + strings.Repeat("x", 64<<10) + "\n",
	}, Symlinks: map[string]string{"link/passwd.yaml": "/etc/passwd"}})
	// "dup" is both a tag (of main's commit) and a branch with other content.
	fx.commit = sha
	if _, err := fx.repo.Tag(t.Context(), "dup", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.repo.Tag(t.Context(), "v1", "main"); err != nil {
		t.Fatal(err)
	}
	gitopstest.GitCommit(t, fx.repo, gitserver.CommitOptions{Branch: "dup", Files: map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            strings.Replace(gitCM, "from-git", "from-branch", 1),
	}})
	return fx
}

func (fx *remoteFixture) requests() int {
	return int(fx.hits.Load()) + len(fx.git.HTTPRequests())
}

func (fx *remoteFixture) reset() {
	fx.hits.Store(0)
	fx.git.ResetRequests()
}

// gitBase is a reference to a directory of the fixture's repository.
func (fx *remoteFixture) gitBase(dir string) string {
	return fx.repo.HTTPURL() + "//" + dir + "?ref=main"
}

// remoteOpts are AllowRemoteBases options whose copies go to a directory
// the test checks is left empty.
func remoteOpts(t *testing.T, ro RemoteOptions) (KustomizeOptions, string) {
	t.Helper()
	tmp := t.TempDir()
	ro.TempDir = tmp
	return KustomizeOptions{AllowRemoteBases: true, Remote: ro}, tmp
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("copies of remote references left behind in %s: %v", dir, entries)
	}
}

// TestKustomizeRemoteBases: with AllowRemoteBases, a kustomization may use
// a Git base and an HTTP file, fetched by gitopskit and read through the
// confined filesystem, and gets the objects kustomize would give for the
// same files in the artifact; a remote base's own remote references are
// fetched too. Without the option the servers see no request.
func TestKustomizeRemoteBases(t *testing.T) {
	fx := newRemoteFixture(t)
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources:\n- " + fx.gitBase("base") + "\n- " + fx.files.URL + "/cm.yaml\n" +
			"patches:\n- path: " + fx.files.URL + "/patch.yaml\n",
		"deep/kustomization.yaml": "resources:\n- " + fx.gitBase("deep") + "\n",
		// The same content, local: what kustomize gives for it.
		"local/kustomization.yaml": "resources: [../lbase, cm.yaml]\npatches:\n- path: patch.yaml\n",
		"local/cm.yaml":            httpCM,
		"local/patch.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {patched: \"yes\"}\n",
		"lbase/kustomization.yaml": "resources: [cm.yaml]\n",
		"lbase/cm.yaml":            gitCM,
	})

	for _, p := range []string{"app", "deep"} {
		if _, err := Kustomize(t.Context(), dir, p, KustomizeOptions{}); !errors.Is(err, ErrRemoteBase) {
			t.Fatalf("%s without AllowRemoteBases: %v, want ErrRemoteBase", p, err)
		}
	}
	if n := fx.requests(); n != 0 {
		t.Fatalf("without AllowRemoteBases the servers saw %d requests", n)
	}

	// Remote content is not part of the digest: such builds bypass the cache.
	cache := NewCache(0)
	opts, tmp := remoteOpts(t, RemoteOptions{})
	opts.NamePrefix, opts.Cache, opts.ArtifactDigest = "p-", cache, "sha256:x"
	objs, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	local, err := Kustomize(t.Context(), dir, "local", KustomizeOptions{NamePrefix: "p-"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := EncodeYAML(objs)
	want, _ := EncodeYAML(local)
	if !bytes.Equal(got, want) {
		t.Errorf("remote build:\n%s\nwant, as from local files:\n%s", got, want)
	}
	if st := cache.Stats(); st.Entries != 0 {
		t.Errorf("a build with remote bases was cached: %+v", st)
	}
	assertEmptyDir(t, tmp)

	// A remote base naming a remote base naming a local base and a file.
	objs, err = Kustomize(t.Context(), dir, "deep", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(objs), ","); got != "core/ConfigMap//p-from-git,core/ConfigMap//p-nested" {
		t.Errorf("nested remote bases gave %s", got)
	}
	assertEmptyDir(t, tmp)

	// The same nesting one level too deep for MaxDepth.
	shallow, _ := remoteOpts(t, RemoteOptions{MaxDepth: 1})
	_, err = Kustomize(t.Context(), dir, "deep", shallow)
	if !errors.Is(err, ErrRemoteFetch) || !errors.Is(err, ErrTooLarge) {
		t.Errorf("nested past MaxDepth: %v, want ErrRemoteFetch and ErrTooLarge", err)
	}
}

// TestKustomizeRemoteBaseConfined: a Git base whose files escape their copy
// is refused as the artifact's own would be; the copies are removed.
func TestKustomizeRemoteBaseConfined(t *testing.T) {
	fx := newRemoteFixture(t)
	for _, base := range []string{"escape", "link"} {
		dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + fx.gitBase(base) + "\n"})
		opts, tmp := remoteOpts(t, RemoteOptions{})
		_, err := Kustomize(t.Context(), dir, "app", opts)
		if !errors.Is(err, ErrPathEscape) {
			t.Errorf("Git base %s escaping its copy: %v, want ErrPathEscape", base, err)
		}
		t.Logf("%s: %v", base, err)
		assertEmptyDir(t, tmp)
	}
}

// TestKustomizeRemoteBounds: a server that never answers is cut at the
// per-fetch timeout, one that streams endless bytes at the byte bound, a
// Git base over the byte bound and a host outside the allowed hosts are
// refused; each with a typed error, and a benign build succeeds after.
func TestKustomizeRemoteBounds(t *testing.T) {
	fx := newRemoteFixture(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("# endless\n"), 1<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)
	dir := writeTree(t, map[string]string{
		"hang/kustomization.yaml":    "resources:\n- " + hang.URL + "/cm.yaml\n",
		"stall/kustomization.yaml":   "resources:\n- " + fx.gitBase("base") + "\n",
		"endless/kustomization.yaml": "resources:\n- " + endless.URL + "/cm.yaml\n",
		"big/kustomization.yaml":     "resources:\n- " + fx.gitBase("big") + "\n",
		"total/kustomization.yaml":   "resources:\n- " + fx.files.URL + "/cm.yaml\n- " + fx.files.URL + "/nested.yaml\n",
		"benign/kustomization.yaml":  "resources:\n- " + fx.gitBase("base") + "\n",
	})
	short := RemoteOptions{Timeout: 300 * time.Millisecond}

	release := make(chan struct{})
	defer close(release)
	fx.git.SetHTTPFault(gitserver.StallHTTP(release))
	for _, p := range []string{"hang", "stall"} {
		opts, tmp := remoteOpts(t, short)
		_, err := Kustomize(t.Context(), dir, p, opts)
		var fe *RemoteFetchError
		if !errors.As(err, &fe) || !errors.Is(err, ErrRemoteFetch) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want a *RemoteFetchError wrapping context.DeadlineExceeded", p, err)
		}
		t.Logf("%s: %v", p, err)
		assertEmptyDir(t, tmp)
	}
	fx.git.SetHTTPFault(nil)

	for _, tc := range []struct {
		path string
		ro   RemoteOptions
	}{
		{"endless", RemoteOptions{MaxBytes: 1 << 20}},
		{"big", RemoteOptions{MaxBytes: 32 << 10}},
		{"total", RemoteOptions{MaxTotalBytes: int64(len(httpCM) + len(nestedCM) - 1)}},
	} {
		opts, tmp := remoteOpts(t, tc.ro)
		_, err := Kustomize(t.Context(), dir, tc.path, opts)
		if !errors.Is(err, ErrRemoteFetch) || !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrRemoteFetch and ErrTooLarge", tc.path, err)
		}
		t.Logf("%s: %v", tc.path, err)
		assertEmptyDir(t, tmp)
	}

	fx.reset()
	opts, _ := remoteOpts(t, RemoteOptions{AllowedHosts: []string{"example.com"}})
	_, err := Kustomize(t.Context(), dir, "benign", opts)
	var re *RemoteBaseError
	if !errors.As(err, &re) || re.Reason == "" {
		t.Errorf("host not allowed: %v, want a *RemoteBaseError with a Reason", err)
	}
	if n := fx.requests(); n != 0 {
		t.Errorf("a host not allowed saw %d requests", n)
	}

	opts, tmp := remoteOpts(t, RemoteOptions{AllowedHosts: []string{"127.0.0.1"}})
	objs, err := Kustomize(t.Context(), dir, "benign", opts)
	if err != nil || len(objs) != 1 {
		t.Fatalf("benign build after the others: %d objects, %v", len(objs), err)
	}
	assertEmptyDir(t, tmp)
}

// TestKustomizeRemoteRefForms: the forms of a Git base's ref select what
// git would: a name that is both a tag and a branch is the tag, a full
// commit ID, ?version=, the default branch without a ref; GitAuth is asked
// for the base's host. The git command never runs.
func TestKustomizeRemoteRefForms(t *testing.T) {
	fx := newRemoteFixture(t)
	n := watchNetwork(t) // a git in PATH that logs its runs
	var asked []string
	url := fx.repo.HTTPURL()
	for ref, want := range map[string]string{
		"//base?ref=dup":             "from-git",
		"//base?ref=" + fx.commit:    "from-git",
		"//base?version=v1":          "from-git",
		"//base":                     "from-git",
		"//base?ref=refs/heads/dup":  "from-branch",
		"//base?ref=dup&timeout=90s": "from-git",
	} {
		dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + url + ref + "\n"})
		opts, tmp := remoteOpts(t, RemoteOptions{GitAuth: func(host string) *source.Auth {
			asked = append(asked, host)
			return nil
		}})
		objs, err := Kustomize(t.Context(), dir, "app", opts)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if len(objs) != 1 || objs[0].GetName() != want {
			t.Errorf("%s: objects %v, want ConfigMap %s", ref, keys(objs), want)
		}
		assertEmptyDir(t, tmp)
	}
	if len(asked) == 0 || asked[0] != fx.git.HTTPAddr() {
		t.Errorf("GitAuth asked for %v, want %s", asked, fx.git.HTTPAddr())
	}
	if b, err := os.ReadFile(n.gitLog); err == nil && len(b) > 0 {
		t.Errorf("git ran: %s", b)
	}
}

// TestKustomizeRemoteRefusals: with AllowRemoteBases, what gitopskit does
// not fetch is refused with a *RemoteBaseError that says why, before any
// request: file:// bases, Git addresses in fields that name files, remote
// references in plugin configurations and inline content; and so are
// redirects to hosts not allowed, and builds over MaxFetches or MaxFiles.
func TestKustomizeRemoteRefusals(t *testing.T) {
	n := watchNetwork(t)
	for name, k := range map[string]string{
		"file:// base":           "resources:\n- file:///etc//?ref=main\n",
		"Git address as a patch": "resources: [a.yaml]\npatches:\n- path: git@GITHOST:org/repo.git\n",
		"plugin configuration": "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n" +
			"  metadata: {name: g}\n  files:\n  - HTTP/data.txt\n",
	} {
		n.reset(t)
		dir := writeTree(t, map[string]string{
			"app/kustomization.yaml": n.expand(k),
			"app/a.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		})
		opts, tmp := remoteOpts(t, RemoteOptions{})
		_, err := Kustomize(t.Context(), dir, "app", opts)
		var re *RemoteBaseError
		if !errors.As(err, &re) || re.Reason == "" {
			t.Errorf("%s: %v, want a *RemoteBaseError with a Reason", name, err)
		}
		t.Logf("%s: %v", name, err)
		n.assertSilent(t)
		assertEmptyDir(t, tmp)
	}

	// A redirect to a host not allowed is not followed.
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/cm.yaml", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + redirect.URL + "/cm.yaml\n"})
	opts, _ := remoteOpts(t, RemoteOptions{AllowedHosts: []string{"127.0.0.1"}})
	if _, err := Kustomize(t.Context(), dir, "app", opts); !errors.Is(err, ErrRemoteFetch) || elsewhere.Load() != 0 {
		t.Errorf("redirect to a host not allowed: %v, %d requests there", err, elsewhere.Load())
	}

	fx := newRemoteFixture(t)
	dir = writeTree(t, map[string]string{
		"two/kustomization.yaml":  "resources:\n- " + fx.files.URL + "/cm.yaml\n- " + fx.files.URL + "/nested.yaml\n",
		"tree/kustomization.yaml": "resources:\n- " + fx.gitBase("base") + "\n",
	})
	for _, tc := range []struct {
		path string
		ro   RemoteOptions
	}{{"two", RemoteOptions{MaxFetches: 1}}, {"tree", RemoteOptions{MaxFiles: 2}}} {
		opts, tmp := remoteOpts(t, tc.ro)
		_, err := Kustomize(t.Context(), dir, tc.path, opts)
		if !errors.Is(err, ErrRemoteFetch) || !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrRemoteFetch and ErrTooLarge", tc.path, err)
		}
		t.Logf("%s: %v", tc.path, err)
		assertEmptyDir(t, tmp)
	}
}

// TestRemoteFetcherTransport: the client of remote files takes no proxy
// from the environment and has a timeout.
func TestRemoteFetcherTransport(t *testing.T) {
	r := newRemoteFetcher(t.Context(), RemoteOptions{})
	defer r.close()
	if r.transport.Proxy != nil {
		t.Error("the transport has a proxy function")
	}
	if r.client.Timeout != DefaultRemoteOptions().Timeout {
		t.Errorf("client timeout %v", r.client.Timeout)
	}
}

// endlessGitServer is a smart-HTTP Git server that advertises one branch
// and answers every fetch with a pack that never ends: blob after blob of
// incompressible bytes.
func endlessGitServer(t *testing.T) *httptest.Server {
	t.Helper()
	const sha = "1111111111111111111111111111111111111111"
	pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			io.WriteString(w, pkt("# service=git-upload-pack\n")+"0000"+
				pkt(sha+" HEAD\x00shallow no-progress symref=HEAD:refs/heads/main\n")+
				pkt(sha+" refs/heads/main\n")+"0000")
		case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
			io.WriteString(w, pkt("shallow "+sha+"\n")+"0000"+pkt("NAK\n"))
			w.Write([]byte{'P', 'A', 'C', 'K', 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff})
			blob := make([]byte, 64<<10)
			var x uint32 = 1
			for r.Context().Err() == nil {
				for i := range blob {
					x ^= x << 13
					x ^= x >> 17
					x ^= x << 5
					blob[i] = byte(x)
				}
				// Object header: type blob (3), size in 4 + 7n bits.
				size := len(blob)
				hdr := []byte{byte(0x80 | 3<<4 | size&0x0f)}
				for size >>= 4; size > 0; size >>= 7 {
					b := byte(size & 0x7f)
					if size > 0x7f {
						b |= 0x80
					}
					hdr = append(hdr, b)
				}
				var z bytes.Buffer
				zw := zlib.NewWriter(&z)
				zw.Write(blob)
				zw.Close()
				if _, err := w.Write(append(hdr, z.Bytes()...)); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestKustomizeRemoteEndlessPack: a Git server that streams a pack without
// end is cut at MaxBytes, as it arrives.
func TestKustomizeRemoteEndlessPack(t *testing.T) {
	srv := endlessGitServer(t)
	dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- " + srv.URL + "/org/repo.git//base?ref=main\n"})
	opts, tmp := remoteOpts(t, RemoteOptions{MaxBytes: 1 << 20})
	_, err := Kustomize(t.Context(), dir, "app", opts)
	var te *source.TooLargeError
	if !errors.Is(err, ErrRemoteFetch) || !errors.Is(err, ErrTooLarge) || !errors.As(err, &te) || !te.Pack {
		t.Errorf("endless pack: %v, want ErrRemoteFetch and a pack over the bound", err)
	}
	t.Log(err)
	assertEmptyDir(t, tmp)
}
