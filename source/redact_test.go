package source_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// TestCredentialsNeverShown: whatever part of the URL holds a credential
// (the user name, as GitHub tokens are passed, a password, a query value),
// and whether the fetch succeeds, fails at the server, fails to connect or
// is refused as invalid, neither the error, nor the Artifact's URL, nor the
// revision shows it; nor do errors show Auth's password or token.
func TestCredentialsNeverShown(t *testing.T) {
	const secret = "S3CRETtok"
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a.yaml": "a"}})
	locked := newEnv(t, gitserver.Options{Username: "u", Password: "right"})
	lockedRepo := gitopstest.NewGitRepo(t, locked.srv, "app")
	commit(t, lockedRepo, gitserver.CommitOptions{Files: map[string]string{"a.yaml": "a"}})
	open := strings.TrimPrefix(repo.HTTPURL(), "http://")
	closed := closedPort(t)

	tests := []struct {
		name string
		url  string
		auth *source.Auth
		ok   bool // the fetch succeeds
	}{
		{name: "token as user name, fetch succeeds", url: "http://" + secret + "@" + open, ok: true},
		{name: "token in the query", url: "http://" + open + "?access_token=" + secret},
		{name: "token as user name, refused by the server", url: "http://" + secret + "@" + strings.TrimPrefix(lockedRepo.HTTPURL(), "http://")},
		{name: "user and password in the URL", url: "http://u:" + secret + "@" + open},
		{name: "token as user name, server unreachable", url: "http://" + secret + "@" + closed + "/app.git"},
		{name: "token in the query, server unreachable", url: "http://" + closed + "/app.git?token=" + secret},
		{name: "token as user name, unsupported scheme", url: "ftp://" + secret + "@example.com/app.git"},
		{name: "token as user name, URL does not parse", url: "http://" + secret + "@[::1/app.git"},
		{name: "token without a scheme", url: secret + "@example.com/app.git"},
		{name: "token with a control character", url: "http://" + secret + "@example.com/app\n.git"},
		{name: "wrong Auth password", url: lockedRepo.HTTPURL(), auth: &source.Auth{Username: "u", Password: secret}},
		{name: "Auth token refused", url: lockedRepo.HTTPURL(), auth: &source.Auth{BearerToken: secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := source.Fetch(t.Context(), tt.url, source.Options{Dir: t.TempDir(), Auth: tt.auth})
			if tt.ok != (err == nil) {
				t.Fatalf("Fetch: %v, want success %v", err, tt.ok)
			}
			var shown []string
			if err != nil {
				shown = append(shown, err.Error())
				t.Logf("err: %v", err)
			} else {
				shown = append(shown, res.Artifact.URL, res.Revision)
				t.Logf("Artifact.URL: %s", res.Artifact.URL)
			}
			if _, rerr := source.Resolve(t.Context(), tt.url, source.Ref{}, tt.auth); rerr != nil {
				shown = append(shown, rerr.Error())
			}
			for _, s := range shown {
				if strings.Contains(s, secret) {
					t.Errorf("the credential shows: %s", s)
				}
			}
			if err != nil && errors.Unwrap(err) == nil {
				t.Errorf("the error does not wrap its cause: %v", err)
			}
		})
	}

	for in, want := range map[string]string{
		"https://" + secret + "@github.com/org/repo":         "https://redacted@github.com/org/repo",
		"https://u:" + secret + "@host/r.git":                "https://redacted@host/r.git",
		"https://host/r.git?token=" + secret + "&ref=main#x": "https://host/r.git?ref=redacted&token=redacted#redacted",
		"ssh://git@host/r.git":                               "ssh://git@host/r.git",
		"git@host:org/r.git":                                 "git@host:org/r.git",
		"https://host/r.git":                                 "https://host/r.git",
	} {
		if got := source.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
