package gitserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// HTTPFault decides, for one HTTP request, whether the server answers it with
// a fault instead of serving it: it returns the status to send and true, or
// false to serve the request normally.
//
// A fault may also block before it returns, to make the server look stalled
// or slow; it must return once r.Context() is done, which happens when the
// client gives up and when the server closes. The function is called
// concurrently for concurrent requests. See [FailHTTP] and [StallHTTP].
type HTTPFault func(r *http.Request) (status int, fail bool)

// FailHTTP is an [HTTPFault] answering every request with status, e.g.
// http.StatusInternalServerError or http.StatusServiceUnavailable.
func FailHTTP(status int) HTTPFault {
	return func(*http.Request) (int, bool) { return status, true }
}

// StallHTTP is an [HTTPFault] holding every request until release is closed
// (then it is served normally) or the request is cancelled (then it gets 503
// Service Unavailable, if anyone still listens). Use it to test client
// timeouts.
func StallHTTP(release <-chan struct{}) HTTPFault {
	return func(r *http.Request) (int, bool) {
		select {
		case <-release:
			return 0, false
		case <-r.Context().Done():
			return http.StatusServiceUnavailable, true
		}
	}
}

// SetHTTPFault installs fault for the requests that arrive from now on; nil
// removes it. The fault is consulted before authentication. Faulted
// requests are recorded in [Server.HTTPRequests] with the fault's status.
func (s *Server) SetHTTPFault(fault HTTPFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = fault
}

// HTTPRequest is one request the HTTP side received, as recorded in
// [Server.HTTPRequests].
//
// With Git protocol v0/v1 (what go-git v5 speaks), listing refs
// (ls-remote, "has the remote moved?") is a single GET of info/refs; a clone
// or fetch adds a POST to git-upload-pack, and a push a POST to
// git-receive-pack. Protocol v2 clients (the git CLI) POST to
// git-upload-pack for listing too.
type HTTPRequest struct {
	// Method is the HTTP method, GET or POST.
	Method string
	// Path is the URL path, e.g. "/team/app.git/info/refs".
	Path string
	// Repo is the repository name as given to [Server.HTTPURL], e.g.
	// "team/app"; empty if the path names no repository.
	Repo string
	// Service is "git-upload-pack" or "git-receive-pack" for the smart
	// protocol requests (the info/refs advertisement and the POSTs), else
	// empty.
	Service string
	// User is the basic-auth user name the client sent, if any.
	User string
	// Status is the status code the server answered with, or 0 if the
	// request is still running or ended without an answer.
	Status int
}

// HTTPRequests returns the requests received since the start or the last
// [Server.ResetRequests], oldest first.
func (s *Server) HTTPRequests() []HTTPRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HTTPRequest(nil), s.httpLog...)
}

// ResetRequests forgets the recorded HTTP requests and SSH sessions.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.httpLog = nil
	s.sshLog = nil
	s.logGen++
}

func (s *Server) startHTTP() {
	s.cgi = &cgi.Handler{
		Path: s.git,
		Args: []string{"http-backend"},
		Dir:  s.root,
		Env: append(append([]string(nil), s.env...),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
		),
		Logger: log.New(logWriter{log: s.log, msg: "gitserver: cgi"}, "", 0),
		Stderr: logWriter{log: s.log, msg: "gitserver: git http-backend"},
	}
	s.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          log.New(logWriter{log: s.log, msg: "gitserver: http"}, "", 0),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gitserver: http serve", "err", err)
		}
	}()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.track() {
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()

	repo, service := parseHTTPPath(r)
	user, _, _ := r.BasicAuth()
	s.mu.Lock()
	gen, idx := s.logGen, len(s.httpLog)
	s.httpLog = append(s.httpLog, HTTPRequest{
		Method: r.Method, Path: r.URL.Path, Repo: repo, Service: service, User: user,
	})
	fault := s.fault
	s.mu.Unlock()

	rec := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		// ResetRequests may have run meanwhile; only touch our own record.
		if gen == s.logGen {
			s.httpLog[idx].Status = rec.status
		}
	}()

	if fault != nil {
		if status, fail := fault(r); fail {
			http.Error(rec, http.StatusText(status), status)
			return
		}
	}
	if s.username != "" && !s.checkBasicAuth(r) {
		rec.Header().Set("WWW-Authenticate", `Basic realm="gitserver", charset="UTF-8"`)
		http.Error(rec, "authentication required", http.StatusUnauthorized)
		return
	}
	if repo != "" {
		dir, err := s.resolveRepo(repo)
		if err != nil {
			http.Error(rec, "repository not found", http.StatusNotFound)
			return
		}
		if s.serveUploadPack(rec, r, dir, service) {
			return
		}
	}
	// net/http/cgi refuses chunked request bodies, which the git CLI sends
	// for large pushes; buffer them.
	if len(r.TransferEncoding) > 0 {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rec, fmt.Sprintf("reading request body: %v", err), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
	}
	s.cgi.ServeHTTP(rec, r)
}

// serveUploadPack answers the two requests of a fetch, the ref
// advertisement (GET info/refs?service=git-upload-pack) and the pack
// negotiation (POST git-upload-pack), by running "git upload-pack" itself the
// way git http-backend does, and reports whether it handled the request.
// Every fetch and ls-remote makes these requests; through the CGI they cost
// three processes each (git, git-http-backend, git upload-pack), here one.
// Pushes and the dumb protocol still go through git http-backend.
func (s *Server) serveUploadPack(w http.ResponseWriter, r *http.Request, dir, service string) bool {
	if service != "git-upload-pack" {
		return false
	}
	advertise := r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs")
	if !advertise && (r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-upload-pack")) {
		return false
	}
	args := []string{"upload-pack", "--stateless-rpc"}
	env := append([]string(nil), s.env...)
	proto := r.Header.Get("Git-Protocol")
	if proto != "" {
		env = append(env, "GIT_PROTOCOL="+proto)
	}
	h := w.Header()
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	var stdin io.Reader
	if advertise {
		args = append(args, "--advertise-refs")
		h.Set("Content-Type", "application/x-git-upload-pack-advertisement")
	} else {
		if r.Header.Get("Content-Type") != "application/x-git-upload-pack-request" {
			http.Error(w, "Unsupported Media Type", http.StatusUnsupportedMediaType)
			return true
		}
		stdin = r.Body
		switch r.Header.Get("Content-Encoding") {
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, fmt.Sprintf("reading request body: %v", err), http.StatusBadRequest)
				return true
			}
			defer zr.Close()
			stdin = zr
		}
		h.Set("Content-Type", "application/x-git-upload-pack-result")
	}
	cmd := exec.CommandContext(r.Context(), s.git, append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Stderr = logWriter{log: s.log, msg: "gitserver: git upload-pack"}
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return true
	}
	if err := cmd.Start(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return true
	}
	w.WriteHeader(http.StatusOK)
	// Like http-backend: protocol v0/v1 advertisements start with a
	// service line; version 2 has none.
	if advertise && !slices.Contains(strings.Split(proto, ":"), "version=2") {
		_, _ = io.WriteString(w, "001e# service=git-upload-pack\n0000")
	}
	if _, err := io.Copy(w, stdout); err != nil {
		s.log.Debug("gitserver: http upload-pack", "dir", dir, "err", err)
	}
	if err := cmd.Wait(); err != nil {
		s.log.Debug("gitserver: http upload-pack", "dir", dir, "err", err)
	}
	return true
}

// checkBasicAuth compares the request's credentials in constant time.
func (s *Server) checkBasicAuth(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(s.username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(s.password)) == 1
	return userOK && passOK
}

// httpSuffixes are the paths below a repository that http-backend serves.
var httpSuffixes = []string{
	"/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD", "/objects/", "/info/",
}

// parseHTTPPath extracts the repository name and smart-HTTP service of a
// request, e.g. ("team/app", "git-upload-pack") for
// "/team/app.git/info/refs?service=git-upload-pack".
func parseHTTPPath(r *http.Request) (repo, service string) {
	p := r.URL.Path
	for _, suf := range httpSuffixes {
		i := strings.Index(p, suf)
		if i <= 0 {
			continue
		}
		repo = trimRepoName(p[:i])
		switch suf {
		case "/info/refs":
			service = r.URL.Query().Get("service")
		case "/git-upload-pack", "/git-receive-pack":
			service = suf[1:]
		}
		return repo, service
	}
	return "", ""
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streamed responses reach the client as they are written.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
