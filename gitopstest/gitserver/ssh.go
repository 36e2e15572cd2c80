package gitserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Key is an SSH key pair, for a client (authorized with
// [Options.AuthorizedKeys]) or for the server's host key
// ([Options.HostKey]).
type Key struct {
	// Signer signs with the private key; golang.org/x/crypto/ssh clients and
	// go-git's ssh.PublicKeys take it directly.
	Signer ssh.Signer
	// PrivateKeyPEM is the private key in OpenSSH PEM format, unencrypted,
	// as found in ~/.ssh/id_ed25519 or a Kubernetes SSH-auth Secret.
	PrivateKeyPEM []byte
	// AuthorizedKey is the public key as one authorized_keys line, with a
	// trailing newline.
	AuthorizedKey []byte
}

// PublicKey is the public half of k.
func (k *Key) PublicKey() ssh.PublicKey { return k.Signer.PublicKey() }

// GenerateKey makes a new ed25519 key pair.
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ssh signer: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "gitserver")
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return &Key{
		Signer:        signer,
		PrivateKeyPEM: pem.EncodeToMemory(block),
		AuthorizedKey: ssh.MarshalAuthorizedKey(signer.PublicKey()),
	}, nil
}

// SSHSession is one git command run over SSH, as recorded in
// [Server.SSHSessions]. Sessions that never asked to run a command are not
// recorded, and neither are failed logins.
type SSHSession struct {
	// User is the SSH user name the client logged in with.
	User string
	// Command is the command the client asked for, e.g.
	// "git-upload-pack '/team/app.git'".
	Command string
	// Service is "git-upload-pack" or "git-receive-pack", or empty if the
	// command was refused.
	Service string
	// Repo is the repository name as given to [Server.SSHURL], e.g.
	// "team/app", or empty if the command was refused.
	Repo string
	// ExitStatus is the exit status sent to the client, or -1 while the
	// command runs. A client may see its own session as still running for
	// a moment: git clients do not wait for the exit status once they have
	// what they asked for.
	ExitStatus int
}

// SSHSessions returns the git commands run over SSH since the start or the
// last [Server.ResetRequests], oldest first. With protocol v0/v1 both
// listing refs and fetching are one git-upload-pack session each.
func (s *Server) SSHSessions() []SSHSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SSHSession(nil), s.sshLog...)
}

// handshakeTimeout bounds the SSH handshake and authentication.
const handshakeTimeout = 10 * time.Second

func (s *Server) startSSH() {
	s.sshConfig = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			ok := s.authorizedKeys[string(key.Marshal())]
			s.mu.Unlock()
			if !ok {
				return nil, fmt.Errorf("public key %s is not authorized", ssh.FingerprintSHA256(key))
			}
			return &ssh.Permissions{}, nil
		},
		ServerVersion: "SSH-2.0-gitserver",
	}
	s.sshConfig.AddHostKey(s.hostKey)

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := s.sshLn.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Error("gitserver: ssh accept", "err", err)
				}
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = nc.Close()
				return
			}
			s.sshConns[nc] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.serveSSHConn(nc)
				s.mu.Lock()
				delete(s.sshConns, nc)
				s.mu.Unlock()
			}()
		}
	}()
}

func (s *Server) serveSSHConn(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.sshConfig)
	if err != nil {
		s.log.Debug("gitserver: ssh handshake", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	defer conn.Close()
	_ = nc.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)

	// chans is closed when the connection ends; Close ends it.
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			s.log.Debug("gitserver: ssh accept channel", "err", err)
			continue
		}
		if !s.track() {
			_ = ch.Close()
			go ssh.DiscardRequests(creqs)
			continue
		}
		go func() {
			defer s.wg.Done()
			s.serveSSHSession(conn.User(), ch, creqs)
		}()
	}
}

// serveSSHSession handles one session channel: env requests for
// GIT_PROTOCOL, then one exec request. Shells, ptys and subsystems are
// refused.
func (s *Server) serveSSHSession(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, "GIT_PROTOCOL="+kv.Value)
				_ = req.Reply(true, nil)
				continue
			}
			_ = req.Reply(false, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			status := s.execGit(user, cmd.Command, env, ch)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			return
		case "shell":
			_ = req.Reply(false, nil)
			fmt.Fprintf(ch.Stderr(), "gitserver: shell access is not provided\n")
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// execGit runs the git service named in command with the channel as its
// stdin, stdout and stderr, and returns the exit status to send.
func (s *Server) execGit(user, command string, env []string, ch ssh.Channel) int {
	s.mu.Lock()
	gen, idx := s.logGen, len(s.sshLog)
	s.sshLog = append(s.sshLog, SSHSession{User: user, Command: command, ExitStatus: -1})
	s.mu.Unlock()
	update := func(f func(*SSHSession)) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.logGen {
			f(&s.sshLog[idx])
		}
	}

	service, repoPath, err := parseSSHCommand(command)
	var dir string
	if err == nil {
		dir, err = s.resolveRepo(repoPath)
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		update(func(r *SSHSession) { r.ExitStatus = 128 })
		return 128
	}
	update(func(r *SSHSession) { r.Service, r.Repo = service, trimRepoName(repoPath) })
	status := s.runService(service, dir, env, ch)
	update(func(r *SSHSession) { r.ExitStatus = status })
	return status
}

// runService runs "git upload-pack" or "git receive-pack" on dir.
func (s *Server) runService(service, dir string, env []string, ch ssh.Channel) int {
	args := []string{strings.TrimPrefix(service, "git-")}
	if service == "git-upload-pack" {
		args = append(args, "--strict")
	}
	args = append(args, dir)
	cmd := exec.CommandContext(s.ctx, s.git, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), s.env...), env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.WaitDelay = 5 * time.Second
	// Feed stdin ourselves: exec would otherwise wait in Wait for the client
	// to close its side, which git clients do only after the exit status.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		return 128
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		return 128
	}
	if s.track() {
		go func() {
			defer s.wg.Done()
			_, _ = io.Copy(stdin, ch)
			_ = stdin.Close()
		}()
	} else {
		_ = stdin.Close()
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode()
	default:
		s.log.Debug("gitserver: ssh git", "service", service, "dir", dir, "err", err)
		return 255
	}
}

// parseSSHCommand splits "git-upload-pack '/team/app.git'" into the service
// and the path. The path is single-quoted the way git's sq_quote quotes it
// (a quote or ! inside is closed, backslash-escaped and reopened), or bare
// without spaces.
func parseSSHCommand(command string) (service, repoPath string, err error) {
	name, arg, ok := strings.Cut(command, " ")
	if name == "git" { // "git upload-pack '...'"
		var sub string
		sub, arg, ok = strings.Cut(arg, " ")
		name = "git-" + sub
	}
	if !ok {
		return "", "", fmt.Errorf("unsupported command %q: only git-upload-pack and git-receive-pack are served", command)
	}
	switch name {
	case "git-upload-pack", "git-receive-pack":
	default:
		return "", "", fmt.Errorf("unsupported command %q: only git-upload-pack and git-receive-pack are served", command)
	}
	p, err := sqDequote(strings.TrimSpace(arg))
	if err != nil {
		return "", "", fmt.Errorf("command %q: %w", command, err)
	}
	return name, p, nil
}

// sqDequote undoes git's sq_quote, as git-shell does.
func sqDequote(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing repository path")
	}
	if s[0] != '\'' {
		if strings.ContainsAny(s, " \t\n'\"\\") {
			return "", fmt.Errorf("badly quoted path %q", s)
		}
		return s, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		if c != '\'' {
			b.WriteByte(c)
			i++
			continue
		}
		// A closing quote: the end, or an escaped ' or ! followed by a
		// reopening quote.
		if i == len(s)-1 {
			return b.String(), nil
		}
		if i+3 < len(s) && s[i+1] == '\\' && (s[i+2] == '\'' || s[i+2] == '!') && s[i+3] == '\'' {
			b.WriteByte(s[i+2])
			i += 4
			continue
		}
		return "", fmt.Errorf("badly quoted path %q", s)
	}
	return "", fmt.Errorf("unterminated quote in %q", s)
}
