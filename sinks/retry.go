package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RetryOptions say how a sink retries a request. A request is retried
// after a network error or a 408, 429 or 5xx answer; other answers are
// final.
type RetryOptions struct {
	// Timeout bounds each attempt. Default 10s.
	Timeout time.Duration
	// MaxAttempts bounds the attempts per event. Default 5.
	MaxAttempts int
	// MinBackoff is the wait after the first failed attempt; it doubles
	// after each one, up to MaxBackoff, with jitter (a random half of it
	// is subtracted). Default 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter bounds the wait a Retry-After answer asks for: a
	// longer wait is cut to it. Default 1 minute.
	MaxRetryAfter time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	return o
}

// HTTPError is a final answer other than 2xx, or the last answer when the
// attempts ran out.
type HTTPError struct {
	Method string
	// URL is the request's URL as it may be shown (see the package doc).
	URL        string
	StatusCode int
	// Body is the start of the answer, credentials scrubbed.
	Body string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// scrubbedError shows a message with the secrets scrubbed and keeps the
// error it came from for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// request is one HTTP request a sink makes, with retries.
type request struct {
	client  *http.Client
	retry   RetryOptions
	method  string
	url     string
	shown   string // url as it may be shown
	header  http.Header
	body    []byte
	secrets []string // scrubbed from errors
}

// do sends the request until it succeeds, fails for good, the attempts
// run out or ctx ends.
func (r *request) do(ctx context.Context) error {
	var last error
	for attempt := 1; ; attempt++ {
		wait, err := r.once(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && last != nil {
			// The caller's context cut this attempt short: the answer
			// worth reporting is the previous attempt's.
			return fmt.Errorf("%s %s: %w (after %d attempts; last: %w)", r.method, r.shown, ctx.Err(), attempt, last)
		}
		last = err
		if wait < 0 || attempt >= r.retry.MaxAttempts {
			break
		}
		backoff := min(r.retry.MaxBackoff, r.retry.MinBackoff<<min(attempt-1, 30))
		backoff -= rand.N(backoff/2 + 1) // jitter
		wait = max(wait, backoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w (after %d attempts; last: %w)", r.method, r.shown, ctx.Err(), attempt, last)
		case <-t.C:
		}
	}
	return last
}

// once makes one attempt. It returns the error, and how long to wait
// before the next (0: the backoff decides; negative: don't retry).
func (r *request) once(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.retry.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return -1, fmt.Errorf("%s %s: %s", r.method, r.shown, r.scrub(err.Error()))
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gitopskit")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the URL
		}
		msg := err.Error()
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no answer within %s", r.retry.Timeout)
		}
		return 0, &scrubbedError{msg: fmt.Sprintf("%s %s: %s", r.method, r.shown, r.scrub(msg)), err: err}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	herr := &HTTPError{Method: r.method, URL: r.shown, StatusCode: resp.StatusCode,
		Body: r.scrub(strings.Join(strings.Fields(string(head)), " "))}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return r.retryAfter(resp.Header.Get("Retry-After")), herr
	default:
		return -1, herr
	}
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// by MaxRetryAfter; 0 when absent or unparsable.
func (r *request) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return max(0, min(d, r.retry.MaxRetryAfter))
}

// scrub removes the request's secrets from s.
func (r *request) scrub(s string) string {
	for _, secret := range r.secrets {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "redacted")
		}
	}
	return s
}

// secretsOf returns the header values that may be credentials, and the
// tokens within them ("Bearer <token>").
func secretsOf(h http.Header) []string {
	var out []string
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "Accept", "User-Agent", "X-Github-Api-Version":
			continue
		}
		for _, v := range vs {
			out = append(out, v)
			if _, tok, ok := strings.Cut(v, " "); ok {
				out = append(out, strings.TrimSpace(tok))
			}
		}
	}
	return out
}

// hostOf returns "scheme://host" of a URL: how a webhook's URL is shown.
func hostOf(u *url.URL) string { return u.Scheme + "://" + u.Host }
