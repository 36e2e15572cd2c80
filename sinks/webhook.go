package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// WebhookOptions configure a [Webhook].
type WebhookOptions struct {
	// URL receives a POST per event. Required; http or https.
	URL string
	// Header is added to each request, for instance an Authorization
	// header. Its values never appear in errors.
	Header http.Header
	// Client sends the requests. Default: a client of its own with
	// http.DefaultTransport's settings.
	Client *http.Client
	// Retry says how failed requests are retried.
	Retry RetryOptions
}

// Webhook is a [Sink] that POSTs each event as JSON (the shape of
// [Event]), with Content-Type application/json.
type Webhook struct {
	opts    WebhookOptions
	shown   string
	secrets []string
}

// NewWebhook returns a Webhook. It makes no request.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// the URL itself may be a secret: don't quote it
		return nil, fmt.Errorf("%w: webhook URL: want an http or https URL", ErrInvalidOptions)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts.Header = opts.Header.Clone()
	opts.Retry = opts.Retry.withDefaults()
	secrets := secretsOf(opts.Header)
	if u.User != nil {
		secrets = append(secrets, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	if u.Path != "" && u.Path != "/" {
		secrets = append(secrets, u.EscapedPath()[1:])
	}
	if u.RawQuery != "" {
		secrets = append(secrets, u.RawQuery)
	}
	return &Webhook{opts: opts, shown: hostOf(u), secrets: secrets}, nil
}

// Send POSTs e, retrying as [WebhookOptions.Retry] says.
func (w *Webhook) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("sinks: webhook: encode the event: %w", err)
	}
	h := w.opts.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	req := &request{client: w.opts.Client, retry: w.opts.Retry, method: http.MethodPost, url: w.opts.URL,
		shown: w.shown, header: h, body: body, secrets: w.secrets}
	if err := req.do(ctx); err != nil {
		return fmt.Errorf("sinks: webhook: %w", err)
	}
	return nil
}
