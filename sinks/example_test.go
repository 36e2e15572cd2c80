package sinks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/sinks"
)

// Post the failures of a configuration to a webhook, away from the
// reconcile.
func ExampleNewWebhook() {
	// A receiver, for the example.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s\n", r.Method, r.Header.Get("Content-Type"), body)
	}))
	defer srv.Close()

	hook, err := sinks.NewWebhook(sinks.WebhookOptions{URL: srv.URL,
		Header: http.Header{"Authorization": {"Bearer my-token"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := sinks.New(hook, sinks.Options{Configuration: "fleet", Filter: sinks.Filter{FailuresOnly: true}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// d.Handle is the reconciler's handler:
	// reconcile.New(c, conf, reconcile.Options{OnEvent: d.Handle})
	d.Handle(reconcile.Event{Type: reconcile.EventProgress, Unit: "infra", Stage: reconcile.StageFetch}) // filtered out
	d.Handle(reconcile.Event{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Type: reconcile.EventFailed,
		Unit: "infra", Stage: reconcile.StageFetch, Message: "fetch https://token@git.example.com/fleet.git: denied",
		Err: fmt.Errorf("fetch https://token@git.example.com/fleet.git: denied")})
	_ = d.Close(context.Background()) // delivers what is queued
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// POST application/json
	// {"time":"2025-01-02T03:04:05Z","type":"Failed","configuration":"fleet","unit":"infra","stage":"fetch","message":"fetch https://redacted@git.example.com/fleet.git: denied","error":"fetch https://redacted@git.example.com/fleet.git: denied"}
	// {Filtered:1 Queued:1 Dropped:0 Sent:1 Failed:0}
}

// Mark the commit each unit applied on a GitHub-compatible forge.
func ExampleNewCommitStatus() {
	// A forge, for the example.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s\n", r.Method, r.URL.Path, body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	cs, err := sinks.NewCommitStatus(sinks.CommitStatusOptions{
		BaseURL: srv.URL, // default https://api.github.com
		Owner:   "acme", Repository: "fleet", Token: "my-token"})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := sinks.New(cs, sinks.Options{Configuration: "prod",
		Filter: sinks.Filter{Types: []reconcile.EventType{reconcile.EventDone}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	rev := "main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1"
	d.Handle(reconcile.Event{Type: reconcile.EventDone, Unit: "apps", Stage: reconcile.StageDone, Revision: rev,
		Message: "deployment dev/web: 0/2 replicas available",
		Status: &reconcile.UnitStatus{Name: "apps", Phase: reconcile.PhaseNotReady, Reason: reconcile.ReasonHealthCheckFailed,
			LastAttemptedRevision: rev}})
	_ = d.Close(context.Background())
	// Output:
	// POST /repos/acme/fleet/statuses/7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1
	// {"context":"gitopskit/prod/apps","description":"NotReady (HealthCheckFailed): deployment dev/web: 0/2 replicas available","state":"failure"}
}

// A sink of the program's own.
func ExampleSinkFunc() {
	d, _ := sinks.New(sinks.SinkFunc(func(ctx context.Context, e sinks.Event) error {
		fmt.Println(e.Configuration, e.Unit, e.Type, e.Status.Phase)
		return nil
	}), sinks.Options{Configuration: "fleet", Filter: sinks.Filter{Types: []reconcile.EventType{reconcile.EventDone}}})
	d.Handle(reconcile.Event{Type: reconcile.EventDone, Unit: "infra", Stage: reconcile.StageDone,
		Status: &reconcile.UnitStatus{Name: "infra", Phase: reconcile.PhaseReady}})
	_ = d.Close(context.Background())
	// Output: fleet infra Done Ready
}
