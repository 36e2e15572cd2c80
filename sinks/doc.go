// Package sinks delivers the events of a reconciler to a sink the embedder
// chooses, away from the reconcile: a webhook taking JSON, a Git forge's
// commit statuses, or any [Sink].
//
// # Dispatcher
//
// A [Dispatcher] is the [github.com/gitopskit/gitopskit/reconcile.Options.OnEvent] handler: its
// [Dispatcher.Handle] filters an event ([Filter]: by type, stage, unit,
// failures only), turns it into an [Event] (the stable JSON shape, URLs
// redacted) and puts it on a bounded queue; it never blocks the reconcile.
// When the queue is full the event is dropped and counted
// ([Dispatcher.Stats]). One goroutine per Dispatcher sends the queued
// events in order; [Dispatcher.Close] delivers what is queued and stops it.
//
//	hook, err := sinks.NewWebhook(sinks.WebhookOptions{URL: "https://alerts.example.com/gitops"})
//	...
//	d, err := sinks.New(hook, sinks.Options{Configuration: "fleet", Filter: sinks.Filter{FailuresOnly: true}})
//	...
//	defer d.Close(ctx)
//	r, err := reconcile.New(c, conf, reconcile.Options{OnEvent: d.Handle})
//
// # Sinks
//
// [Webhook] POSTs each event as JSON. [CommitStatus] marks the commit a
// unit worked on with a status (success, failure, pending) on GitHub,
// Gitea or GitLab when the unit's reconcile ends. Both retry failed
// requests (network errors, 408, 429 and 5xx answers) with exponential
// backoff and jitter, honour Retry-After and the context, and bound each
// request with a timeout ([RetryOptions]).
//
// # Credentials
//
// Credentials never reach events or errors: the URLs in messages pass
// through [github.com/gitopskit/gitopskit/source.RedactURL], a webhook's URL is shown as its scheme and
// host only (webhook URLs often hold a secret in their path), and header
// values and tokens are scrubbed from the errors and the answers quoted in
// them.
package sinks
