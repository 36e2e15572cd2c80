package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configures a [Server]. The zero value is a server without HTTP
// authentication, without authorized SSH keys (so every SSH login is refused
// until [Server.AuthorizeKey] is called), and with repositories in a fresh
// temporary directory.
type Options struct {
	// Root is the directory holding the bare repositories. If empty, a
	// temporary directory is created and removed by [Server.Close]; a
	// directory given here is left in place.
	Root string

	// Username and Password, if Username is not empty, protect the HTTP side
	// with basic authentication: a request without these exact credentials
	// gets 401 Unauthorized with a WWW-Authenticate header.
	Username string
	// Password is the basic-auth password that goes with Username.
	Password string

	// AuthorizedKeys are the SSH public keys allowed to log in. Any SSH user
	// name is accepted; only the key matters.
	AuthorizedKeys []ssh.PublicKey

	// HostKey is the SSH host key. If nil, an ed25519 key is generated.
	HostKey ssh.Signer

	// GitPath is the git binary to run. If empty, "git" is looked up in PATH.
	GitPath string

	// Logger receives diagnostics (failed handshakes, git errors). If nil,
	// nothing is logged.
	Logger *slog.Logger
}

// Server is a Git server on 127.0.0.1 speaking smart HTTP and SSH. Create one
// with [Start] and stop it with [Server.Close]. Its methods are safe for
// concurrent use.
type Server struct {
	root    string
	git     string
	env     []string // base environment of every git process
	tempDir string   // created by Start, removed by Close
	log     *slog.Logger

	username, password string
	hostKey            ssh.Signer

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // serve loops, handlers, sessions

	httpLn  net.Listener
	httpSrv *http.Server
	cgi     http.Handler

	sshLn     net.Listener
	sshConfig *ssh.ServerConfig

	mu             sync.Mutex
	closed         bool
	authorizedKeys map[string]bool // ssh.PublicKey.Marshal() -> true
	fault          HTTPFault
	httpLog        []HTTPRequest
	sshLog         []SSHSession
	logGen         int // incremented by ResetRequests
	sshConns       map[net.Conn]struct{}

	closeOnce sync.Once
	closeErr  error
}

// gitConfig is applied to every git process through GIT_CONFIG_COUNT, so it
// holds for repositories the server did not create too.
var gitConfig = [][2]string{
	{"http.receivepack", "true"},                    // allow pushes over HTTP
	{"uploadpack.allowReachableSHA1InWant", "true"}, // allow fetching a commit by ID
	{"uploadpack.allowFilter", "true"},
	{"gc.auto", "0"}, // no background gc racing with tests
	{"receive.autogc", "false"},
	{"init.defaultBranch", "main"},
	{"core.logAllRefUpdates", "false"},
	// Keep each commit's objects as the small pack fast-import writes
	// instead of running unpack-objects to make them loose: one process
	// less per commit made by the builder.
	{"fastimport.unpackLimit", "0"},
}

// Start starts a Git server on two loopback ports, one for HTTP and one for
// SSH. ctx bounds the start only; the server runs until [Server.Close].
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gitserver: start: %w", err)
	}
	git := opts.GitPath
	if git == "" {
		p, err := exec.LookPath("git")
		if err != nil {
			return nil, fmt.Errorf("gitserver: git binary not found in PATH (install git): %w", err)
		}
		git = p
	}
	git, err := filepath.Abs(git)
	if err != nil {
		return nil, fmt.Errorf("gitserver: git path: %w", err)
	}

	s := &Server{
		git:            git,
		log:            opts.Logger,
		username:       opts.Username,
		password:       opts.Password,
		hostKey:        opts.HostKey,
		authorizedKeys: make(map[string]bool),
		sshConns:       make(map[net.Conn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, k := range opts.AuthorizedKeys {
		s.authorizedKeys[string(k.Marshal())] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	s.tempDir, err = os.MkdirTemp("", "gitserver-")
	if err != nil {
		return nil, fmt.Errorf("gitserver: temp dir: %w", err)
	}
	home := filepath.Join(s.tempDir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, fmt.Errorf("gitserver: home dir: %w", err)
	}
	root := opts.Root
	if root == "" {
		root = filepath.Join(s.tempDir, "repos")
		if err := os.Mkdir(root, 0o700); err != nil {
			return nil, fmt.Errorf("gitserver: root dir: %w", err)
		}
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, fmt.Errorf("gitserver: root dir: %w", err)
	}
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, fmt.Errorf("gitserver: root dir: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("gitserver: root dir: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("gitserver: root %s is not a directory", root)
	}
	s.root = root
	s.env = baseEnv(git, home)

	version, err := s.runGit(ctx, "", nil, nil, "--version")
	if err != nil {
		return nil, fmt.Errorf("gitserver: cannot run %s: %w", git, err)
	}
	s.log.Debug("gitserver: using git", "path", git, "version", version)

	if s.hostKey == nil {
		k, err := GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("gitserver: host key: %w", err)
		}
		s.hostKey = k.Signer
	}

	var lc net.ListenConfig
	if s.httpLn, err = lc.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("gitserver: listen http: %w", err)
	}
	if s.sshLn, err = lc.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("gitserver: listen ssh: %w", err)
	}
	s.startHTTP()
	s.startSSH()
	ok = true
	return s, nil
}

// baseEnv is the complete environment of every git process: nothing is
// inherited, so neither the user's Git configuration nor stray GIT_*
// variables of the calling process change what git does.
func baseEnv(git, home string) []string {
	env := []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PATH=" + filepath.Dir(git) + string(filepath.ListSeparator) + "/usr/local/bin:/usr/bin:/bin",
		"LC_ALL=C",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ATTR_NOSYSTEM=1",
		fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(gitConfig)),
	}
	for i, kv := range gitConfig {
		env = append(env,
			fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]),
			fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// Close stops the listeners, ends in-flight HTTP requests and SSH sessions
// (killing their git processes), waits for them, and removes the directories
// Start created. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]net.Conn, 0, len(s.sshConns))
		for c := range s.sshConns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		s.cancel()
		var errs []error
		if s.httpSrv != nil {
			if err := s.httpSrv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close http: %w", err))
			}
		} else if s.httpLn != nil {
			_ = s.httpLn.Close()
		}
		if s.sshLn != nil {
			if err := s.sshLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close ssh: %w", err))
			}
		}
		for _, c := range conns {
			_ = c.Close()
		}
		s.wg.Wait()
		if s.tempDir != "" {
			if err := os.RemoveAll(s.tempDir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", s.tempDir, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("gitserver: close: %w", err)
		}
	})
	return s.closeErr
}

// track registers one unit of work that Close waits for. It reports false
// if the server is closing, in which case the work must not start.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// Root is the directory holding the bare repositories.
func (s *Server) Root() string { return s.root }

// GitPath is the git binary the server runs.
func (s *Server) GitPath() string { return s.git }

// HTTPAddr is the host:port of the HTTP side, e.g. "127.0.0.1:41234".
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// SSHAddr is the host:port of the SSH side, e.g. "127.0.0.1:41235".
func (s *Server) SSHAddr() string { return s.sshLn.Addr().String() }

// HTTPURL is the smart-HTTP URL of repository repo, e.g.
// "http://127.0.0.1:41234/team/app.git" for repo "team/app".
func (s *Server) HTTPURL(repo string) string {
	return "http://" + s.HTTPAddr() + "/" + trimRepoName(repo) + ".git"
}

// SSHURL is the SSH URL of repository repo, e.g.
// "ssh://git@127.0.0.1:41235/team/app.git" for repo "team/app".
func (s *Server) SSHURL(repo string) string {
	return "ssh://git@" + s.SSHAddr() + "/" + trimRepoName(repo) + ".git"
}

// HostKey is the public SSH host key, for clients to pin.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine is a known_hosts line pinning the host key at [Server.SSHAddr],
// e.g. "[127.0.0.1]:41235 ssh-ed25519 AAAA...", without a trailing newline.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.SSHAddr())}, s.HostKey())
}

// AuthorizeKey allows key to log in over SSH from now on.
func (s *Server) AuthorizeKey(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorizedKeys[string(key.Marshal())] = true
}

// trimRepoName turns "/team/app.git" into "team/app".
func trimRepoName(repo string) string {
	return strings.TrimSuffix(strings.Trim(repo, "/"), ".git")
}

// errOutsideRoot is returned for repository paths that leave the root.
var errOutsideRoot = errors.New("repository path is outside the server root")

// resolveRepo maps a repository path as a client sends it ("/team/app.git",
// "team/app") to the directory of an existing repository inside the root. It
// rejects paths with ".." elements and paths whose real location (after
// symlinks) is outside the root.
func (s *Server) resolveRepo(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) || strings.Contains(p, `\`) {
		return "", fmt.Errorf("invalid repository path %q", p)
	}
	rel := strings.TrimPrefix(p, "~/")
	rel = strings.Trim(rel, "/")
	for _, el := range strings.Split(rel, "/") {
		if el == ".." {
			return "", fmt.Errorf("%q: %w", p, errOutsideRoot)
		}
	}
	rel = path.Clean(rel)
	if rel == "." {
		return "", fmt.Errorf("invalid repository path %q", p)
	}
	dir := filepath.Join(s.root, filepath.FromSlash(rel))
	if _, err := os.Lstat(dir); err != nil && !strings.HasSuffix(dir, ".git") {
		dir += ".git"
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("'%s' does not appear to be a git repository", p)
	}
	if !within(s.root, real) {
		return "", fmt.Errorf("%q: %w", p, errOutsideRoot)
	}
	if fi, err := os.Stat(filepath.Join(real, "HEAD")); err != nil || fi.IsDir() {
		return "", fmt.Errorf("'%s' does not appear to be a git repository", p)
	}
	return real, nil
}

// within reports whether path p is root or below it. Both must be clean and
// absolute.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// logWriter turns a child's stderr into log records.
type logWriter struct {
	log *slog.Logger
	msg string
}

func (w logWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		w.log.Warn(w.msg, "output", msg)
	}
	return len(p), nil
}

var _ io.Writer = logWriter{}
