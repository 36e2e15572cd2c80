package sinks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/sinks"
)

const (
	token = "s3cr3t-t0ken"
	sha   = "0123456789abcdef0123456789abcdef01234567"
)

// fast retries for tests.
var fast = sinks.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 5 * time.Second}

// recorder is a loopback server answering with the codes of answer, one per
// request (the last one repeated), and recording the requests.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	answer   []func(w http.ResponseWriter)
}

type recorded struct {
	at     time.Time
	method string
	path   string // escaped
	header http.Header
	body   []byte
}

func (rec *recorder) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{time.Now(), r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
		i := min(len(rec.requests), len(rec.answer)) - 1
		rec.mu.Unlock()
		if i < 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rec.answer[i](w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (rec *recorder) all() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.requests...)
}

func code(c int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(c) }
}

func doneEvent(unit string, phase reconcile.Phase, reason string) reconcile.Event {
	return reconcile.Event{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Type: reconcile.EventDone, Unit: unit,
		Stage: reconcile.StageDone, Revision: "main@sha1:" + sha, Message: string(phase) + " (" + reason + ")",
		Status: &reconcile.UnitStatus{Name: unit, Phase: phase, Reason: reason, LastAttemptedRevision: "main@sha1:" + sha,
			Objects: 3, Duration: 1500 * time.Millisecond}}
}

func TestWebhookRetriesAfter500s(t *testing.T) {
	rec := &recorder{answer: []func(http.ResponseWriter){code(500), code(502), code(200)}}
	srv := rec.start(t)
	hook, err := sinks.NewWebhook(sinks.WebhookOptions{URL: srv.URL + "/hook",
		Header: http.Header{"Authorization": {"Bearer " + token}}, Retry: fast})
	if err != nil {
		t.Fatal(err)
	}
	ev := sinks.NewEvent("fleet", "eu-1", reconcile.Event{Time: time.Unix(0, 0), Type: reconcile.EventObject, Unit: "infra",
		Stage: reconcile.StageApply, Revision: "main@sha1:" + sha, Action: "configured",
		Object: inventory.ID{Group: "apps", Kind: "Deployment", Namespace: "dev", Name: "web"}})
	if err := hook.Send(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two 5xx, then 200)", len(reqs))
	}
	r := reqs[2]
	if r.method != http.MethodPost || r.path != "/hook" || r.header.Get("Content-Type") != "application/json" ||
		r.header.Get("Authorization") != "Bearer "+token {
		t.Errorf("request %s %s %v", r.method, r.path, r.header)
	}
	want := `{"time":"1970-01-01T00:00:00Z","type":"Object","configuration":"fleet","cluster":"eu-1","unit":"infra","stage":"apply",` +
		`"revision":"main@sha1:` + sha + `","object":{"group":"apps","kind":"Deployment","namespace":"dev","name":"web"},"action":"configured"}`
	if string(r.body) != want {
		t.Errorf("body\n%s\nwant\n%s", r.body, want)
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	rec := &recorder{answer: []func(http.ResponseWriter){
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		code(200)}}
	srv := rec.start(t)
	hook, err := sinks.NewWebhook(sinks.WebhookOptions{URL: srv.URL, Retry: fast})
	if err != nil {
		t.Fatal(err)
	}
	if err := hook.Send(t.Context(), sinks.Event{Type: "Progress", Configuration: "c"}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	// The backoff alone is 5ms at most: a wait near a second is Retry-After's.
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("retried after %s, before Retry-After's second", gap)
	}
}

func TestWebhookFinalAnswerAndContext(t *testing.T) {
	// A 4xx is final; the answer, which echoes the token, is quoted
	// scrubbed.
	echo := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request with token %s", token)
	}
	rec := &recorder{answer: []func(http.ResponseWriter){echo}}
	srv := rec.start(t)
	secretPath := "/services/T000/B000/XXXXsecret"
	hook, err := sinks.NewWebhook(sinks.WebhookOptions{URL: srv.URL + secretPath + "?sig=abc123",
		Header: http.Header{"X-Token": {token}}, Retry: fast})
	if err != nil {
		t.Fatal(err)
	}
	err = hook.Send(t.Context(), sinks.Event{Type: "Failed", Configuration: "c"})
	var herr *sinks.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusBadRequest {
		t.Fatalf("error %v, want an HTTPError 400", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d requests for a 400, want 1", n)
	}
	for _, secret := range []string{token, "XXXXsecret", "abc123"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows %q", err, secret)
		}
	}
	t.Log(err)

	// Always 503: the context ends the retries.
	rec503 := &recorder{answer: []func(http.ResponseWriter){code(503)}}
	srv503 := rec503.start(t)
	slow, err := sinks.NewWebhook(sinks.WebhookOptions{URL: srv503.URL,
		Retry: sinks.RetryOptions{MinBackoff: 50 * time.Millisecond, MaxAttempts: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = slow.Send(ctx, sinks.Event{Type: "Failed", Configuration: "c"})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &herr) || herr.StatusCode != 503 {
		t.Errorf("error %v, want the deadline and the last 503", err)
	}

	// Nothing listens: a network error, retried MaxAttempts times.
	srvDown := httptest.NewServer(http.NotFoundHandler())
	srvDown.Close()
	down, _ := sinks.NewWebhook(sinks.WebhookOptions{URL: srvDown.URL + secretPath, Retry: fast})
	if err := down.Send(t.Context(), sinks.Event{}); err == nil || strings.Contains(err.Error(), "XXXXsecret") {
		t.Errorf("error %v: want one, without the URL's path", err)
	}

	if _, err := sinks.NewWebhook(sinks.WebhookOptions{URL: "ftp://x/" + token}); !errors.Is(err, sinks.ErrInvalidOptions) || strings.Contains(err.Error(), token) {
		t.Errorf("bad URL: %v", err)
	}
}

func TestDispatcherQueueFullDropsAndCounts(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []sinks.Event
	sink := sinks.SinkFunc(func(ctx context.Context, e sinks.Event) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	})
	d, err := sinks.New(sink, sinks.Options{Configuration: "fleet", QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 10 {
		d.Handle(reconcile.Event{Type: reconcile.EventProgress, Unit: fmt.Sprint("u", i), Stage: reconcile.StageFetch})
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Handle blocked: %s for 10 events", el)
	}
	st := d.Stats()
	// The sending goroutine may have taken one off the queue.
	if st.Queued < 2 || st.Queued > 3 || st.Dropped != 10-st.Queued {
		t.Errorf("stats %+v: want 2 or 3 queued, the rest dropped", st)
	}
	close(release)
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st = d.Stats()
	if st.Sent != st.Queued || int64(len(got)) != st.Sent || got[0].Unit != "u0" {
		t.Errorf("stats %+v, %d delivered (first %q): want every queued one, in order", st, len(got), got[0].Unit)
	}
	d.Handle(reconcile.Event{Type: reconcile.EventProgress, Unit: "late"})
	if d.Stats().Dropped != st.Dropped+1 {
		t.Errorf("an event after Close is not counted as dropped: %+v", d.Stats())
	}

	// Close's deadline cancels a send that hangs.
	hang := sinks.SinkFunc(func(ctx context.Context, e sinks.Event) error { <-ctx.Done(); return ctx.Err() })
	var failed []error
	d2, _ := sinks.New(hang, sinks.Options{Configuration: "fleet", OnError: func(_ sinks.Event, err error) { failed = append(failed, err) }})
	d2.Handle(reconcile.Event{Type: reconcile.EventDone, Unit: "a"})
	d2.Handle(reconcile.Event{Type: reconcile.EventDone, Unit: "b"})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := d2.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want the deadline", err)
	}
	if st := d2.Stats(); st.Failed+st.Dropped != 2 || len(failed) != int(st.Failed) {
		t.Errorf("stats %+v, %d errors: want both events failed or dropped", st, len(failed))
	}
}

func TestFilter(t *testing.T) {
	failedObj := reconcile.Event{Type: reconcile.EventObject, Unit: "a", Stage: reconcile.StageApply, Action: "failed"}
	okObj := reconcile.Event{Type: reconcile.EventObject, Unit: "a", Stage: reconcile.StageApply, Action: "created"}
	notReady := doneEvent("b", reconcile.PhaseNotReady, reconcile.ReasonBuildFailed)
	ready := doneEvent("a", reconcile.PhaseReady, reconcile.ReasonSucceeded)
	failed := reconcile.Event{Type: reconcile.EventFailed, Unit: "a", Stage: reconcile.StageFetch, Err: errors.New("x")}
	for _, tc := range []struct {
		name   string
		f      sinks.Filter
		allows []reconcile.Event
		denies []reconcile.Event
	}{
		{"zero", sinks.Filter{}, []reconcile.Event{failedObj, okObj, ready}, nil},
		{"failures", sinks.Filter{FailuresOnly: true}, []reconcile.Event{failedObj, notReady, failed}, []reconcile.Event{okObj, ready}},
		{"done", sinks.Filter{Types: []reconcile.EventType{reconcile.EventDone}}, []reconcile.Event{ready, notReady}, []reconcile.Event{okObj, failed}},
		{"stage", sinks.Filter{Stages: []reconcile.Stage{reconcile.StageFetch}}, []reconcile.Event{failed}, []reconcile.Event{okObj, ready}},
		{"unit", sinks.Filter{Units: []string{"b"}}, []reconcile.Event{notReady}, []reconcile.Event{ready, okObj}},
		{"match", sinks.Filter{Match: func(e reconcile.Event) bool { return e.Action == "created" }}, []reconcile.Event{okObj}, []reconcile.Event{failedObj}},
	} {
		for _, e := range tc.allows {
			if !tc.f.Allows(e) {
				t.Errorf("%s: denies %s %s %s", tc.name, e.Type, e.Unit, e.Action)
			}
		}
		for _, e := range tc.denies {
			if tc.f.Allows(e) {
				t.Errorf("%s: allows %s %s %s", tc.name, e.Type, e.Unit, e.Action)
			}
		}
	}
}

func TestCommitStatus(t *testing.T) {
	for _, tc := range []struct {
		forge      sinks.Forge
		owner      string
		path, auth string
		authHeader string
		nameKey    string
		failure    string
	}{
		{sinks.GitHub, "acme", "/api/v3/repos/acme/fleet/statuses/" + sha, "Bearer " + token, "Authorization", "context", "failure"},
		{sinks.Gitea, "acme", "/api/v1/repos/acme/fleet/statuses/" + sha, "token " + token, "Authorization", "context", "failure"},
		{sinks.GitLab, "acme/infra", "/api/v4/projects/acme%2Finfra%2Ffleet/statuses/" + sha, token, "Private-Token", "name", "failed"},
	} {
		t.Run(string(tc.forge), func(t *testing.T) {
			rec := &recorder{answer: []func(http.ResponseWriter){code(201)}}
			srv := rec.start(t)
			base := srv.URL
			if tc.forge == sinks.GitHub {
				base += "/api/v3" // GitHub Enterprise
			}
			cs, err := sinks.NewCommitStatus(sinks.CommitStatusOptions{Forge: tc.forge, BaseURL: base,
				Owner: tc.owner, Repository: "fleet", Token: token, Retry: fast})
			if err != nil {
				t.Fatal(err)
			}
			d, err := sinks.New(cs, sinks.Options{Configuration: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			d.Handle(reconcile.Event{Type: reconcile.EventProgress, Unit: "infra", Stage: reconcile.StageFetch, Revision: "main@sha1:" + sha})
			d.Handle(doneEvent("infra", reconcile.PhaseReady, reconcile.ReasonSucceeded))
			d.Handle(doneEvent("apps", reconcile.PhaseNotReady, reconcile.ReasonHealthCheckFailed))
			d.Handle(doneEvent("dev", reconcile.PhasePending, reconcile.ReasonDependencyNotReady))
			d.Handle(doneEvent("off", reconcile.PhaseSuspended, reconcile.ReasonSuspended))
			chart := doneEvent("chart", reconcile.PhaseReady, reconcile.ReasonSucceeded)
			chart.Revision, chart.Status.LastAttemptedRevision = "1.2.3", "1.2.3"
			d.Handle(chart)
			if err := d.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if st := d.Stats(); st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
			reqs := rec.all()
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want 3 (Ready, NotReady, Pending; no progress, suspended or chart)", len(reqs))
			}
			wantStates := []string{"success", tc.failure, "pending"}
			for i, unit := range []string{"infra", "apps", "dev"} {
				r := reqs[i]
				if r.method != http.MethodPost || r.path != tc.path || r.header.Get(tc.authHeader) != tc.auth {
					t.Errorf("%s: %s %s %s=%q", unit, r.method, r.path, tc.authHeader, r.header.Get(tc.authHeader))
				}
				var body map[string]string
				if err := json.Unmarshal(r.body, &body); err != nil {
					t.Fatal(err)
				}
				if body["state"] != wantStates[i] || body[tc.nameKey] != "gitopskit/prod/"+unit || body["description"] == "" {
					t.Errorf("%s: body %s", unit, r.body)
				}
			}
		})
	}
}

func TestTokenNeverInErrorsOrEvents(t *testing.T) {
	// A forge that refuses the token and echoes it.
	rec := &recorder{answer: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message":"Bad credentials: Bearer %s"}`, token)
	}}}
	srv := rec.start(t)
	cs, err := sinks.NewCommitStatus(sinks.CommitStatusOptions{BaseURL: srv.URL, Owner: "o", Repository: "r", Token: token, Retry: fast})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	d, _ := sinks.New(cs, sinks.Options{Configuration: "c", OnError: func(_ sinks.Event, err error) { errs = append(errs, err) }})
	d.Handle(doneEvent("u", reconcile.PhaseReady, reconcile.ReasonSucceeded))
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 {
		t.Fatalf("%d errors, want 1", len(errs))
	}
	if msg := errs[0].Error(); strings.Contains(msg, token) || !strings.Contains(msg, "401") {
		t.Errorf("error %q: want the 401 without the token", msg)
	}

	// URLs in an event's message and error are redacted.
	ev := sinks.NewEvent("c", "", reconcile.Event{Type: reconcile.EventFailed, Unit: "u", Stage: reconcile.StageFetch,
		Message: "checking https://" + token + "@git.example.com/fleet.git?access_token=" + token,
		Err:     errors.New(`fetch "https://user:` + token + `@git.example.com/fleet.git": denied`)})
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), token) || !strings.Contains(ev.Message, "git.example.com/fleet.git") {
		t.Errorf("event %s shows the token or lost the URL", b)
	}
}
