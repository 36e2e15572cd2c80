package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Forge is a Git forge's commit status API.
type Forge string

// The forges [CommitStatus] speaks to.
const (
	// GitHub: POST {BaseURL}/repos/{owner}/{repo}/statuses/{sha}, with
	// "Authorization: Bearer <token>". BaseURL default
	// https://api.github.com; GitHub Enterprise: https://host/api/v3.
	GitHub Forge = "github"
	// Gitea (and Forgejo): the GitHub shape under {BaseURL}/api/v1, with
	// "Authorization: token <token>". BaseURL is the server's URL.
	Gitea Forge = "gitea"
	// GitLab: POST {BaseURL}/api/v4/projects/{owner%2Frepo}/statuses/{sha}
	// with "PRIVATE-TOKEN: <token>"; the context is sent as name and
	// failure as "failed". BaseURL default https://gitlab.com.
	GitLab Forge = "gitlab"
)

// CommitStatusOptions configure a [CommitStatus].
type CommitStatusOptions struct {
	// Forge is the API. Default GitHub.
	Forge Forge
	// BaseURL is the API's root; see the forges for defaults.
	BaseURL string
	// Owner and Repository name the repository (on GitLab, Owner is the
	// group path, and may hold subgroups). Required.
	Owner, Repository string
	// Token authenticates the requests. It never appears in errors.
	Token string
	// Context returns the status' context (GitLab: name) for a unit.
	// Default "gitopskit/<configuration>/<unit>".
	Context func(configuration, unit string) string
	// TargetURL, optional, links the status to a page.
	TargetURL string
	// Client sends the requests. Default: a client of its own.
	Client *http.Client
	// Retry says how failed requests are retried.
	Retry RetryOptions
}

// CommitStatus is a [Sink] that marks the commit a unit worked on when its
// reconcile ends (a Done event): success when the unit is Ready, failure
// when NotReady, pending when it waits for a dependency. Other events,
// suspended units and revisions that are not a Git commit
// ("<ref>@sha1:<commit>" or "sha1:<commit>"; a chart version is not) are
// skipped. A configuration whose units come from several repositories
// needs one CommitStatus per repository, each behind a Dispatcher whose
// [Filter] selects that repository's units.
type CommitStatus struct {
	opts    CommitStatusOptions
	base    *url.URL
	secrets []string
}

// NewCommitStatus returns a CommitStatus. It makes no request.
func NewCommitStatus(opts CommitStatusOptions) (*CommitStatus, error) {
	if opts.Forge == "" {
		opts.Forge = GitHub
	}
	if opts.BaseURL == "" {
		switch opts.Forge {
		case GitHub:
			opts.BaseURL = "https://api.github.com"
		case GitLab:
			opts.BaseURL = "https://gitlab.com"
		}
	}
	switch opts.Forge {
	case GitHub, Gitea, GitLab:
	default:
		return nil, fmt.Errorf("%w: unknown forge %q", ErrInvalidOptions, opts.Forge)
	}
	base, err := url.Parse(strings.TrimSuffix(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil {
		return nil, fmt.Errorf("%w: BaseURL %q: want an http or https URL without credentials", ErrInvalidOptions, source.RedactURL(opts.BaseURL))
	}
	if opts.Owner == "" || opts.Repository == "" {
		return nil, fmt.Errorf("%w: Owner and Repository are required", ErrInvalidOptions)
	}
	if opts.Context == nil {
		opts.Context = func(configuration, unit string) string { return "gitopskit/" + configuration + "/" + unit }
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts.Retry = opts.Retry.withDefaults()
	return &CommitStatus{opts: opts, base: base, secrets: []string{opts.Token}}, nil
}

// State is a commit status' state.
type State string

// The states CommitStatus sets (GitLab's "failed" is sent for
// StateFailure).
const (
	StateSuccess State = "success"
	StateFailure State = "failure"
	StatePending State = "pending"
)

// stateOf returns the state of a unit's phase, "" to skip it.
func stateOf(phase string) State {
	switch reconcile.Phase(phase) {
	case reconcile.PhaseReady:
		return StateSuccess
	case reconcile.PhaseNotReady:
		return StateFailure
	case reconcile.PhasePending:
		return StatePending
	}
	return ""
}

// Send sets the commit status of a Done event; other events are skipped.
func (c *CommitStatus) Send(ctx context.Context, e Event) error {
	if e.Type != string(reconcile.EventDone) || e.Status == nil || e.Unit == "" {
		return nil
	}
	state := stateOf(e.Status.Phase)
	if state == "" {
		return nil
	}
	rev := e.Revision
	if rev == "" {
		rev = e.Status.LastAttemptedRevision
	}
	_, sha, err := source.ParseRevision(rev)
	if err != nil {
		return nil // not a Git commit
	}
	desc := e.Status.Phase + " (" + e.Status.Reason + ")"
	if e.Message != "" && e.Status.Phase != string(reconcile.PhaseReady) {
		desc += ": " + e.Message
	}
	desc = truncate(strings.Join(strings.Fields(desc), " "), 140) // GitHub's limit
	name := c.opts.Context(e.Configuration, e.Unit)

	body := map[string]string{"state": string(state), "description": desc}
	if c.opts.TargetURL != "" {
		body["target_url"] = c.opts.TargetURL
	}
	h := http.Header{"Content-Type": {"application/json"}}
	var path string
	switch c.opts.Forge {
	case GitHub:
		path = "/repos/" + url.PathEscape(c.opts.Owner) + "/" + url.PathEscape(c.opts.Repository) + "/statuses/" + sha
		body["context"] = name
		h.Set("Accept", "application/vnd.github+json")
		h.Set("X-GitHub-Api-Version", "2022-11-28")
		if c.opts.Token != "" {
			h.Set("Authorization", "Bearer "+c.opts.Token)
		}
	case Gitea:
		path = "/api/v1/repos/" + url.PathEscape(c.opts.Owner) + "/" + url.PathEscape(c.opts.Repository) + "/statuses/" + sha
		body["context"] = name
		if c.opts.Token != "" {
			h.Set("Authorization", "token "+c.opts.Token)
		}
	case GitLab:
		path = "/api/v4/projects/" + url.PathEscape(c.opts.Owner+"/"+c.opts.Repository) + "/statuses/" + sha
		body["name"] = name
		if state == StateFailure {
			body["state"] = "failed"
		}
		if c.opts.Token != "" {
			h.Set("PRIVATE-TOKEN", c.opts.Token)
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("sinks: commit status: %w", err)
	}
	u := *c.base
	u.RawPath = u.EscapedPath() + path
	u.Path += unescapeOr(path)
	req := &request{client: c.opts.Client, retry: c.opts.Retry, method: http.MethodPost, url: u.String(),
		shown: u.Redacted(), header: h, body: b, secrets: c.secrets}
	if err := req.do(ctx); err != nil {
		return fmt.Errorf("sinks: commit status of %s for unit %s: %w", sha, e.Unit, err)
	}
	return nil
}

func unescapeOr(p string) string {
	if s, err := url.PathUnescape(p); err == nil {
		return s
	}
	return p
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
