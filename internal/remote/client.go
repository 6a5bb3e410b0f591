// Package remote is what the HTTP sources (libSQL/Turso, Cloudflare D1,
// StarbaseDB) share: an HTTP client with retries and limits, and a Source
// that speaks SQLite's SQL through any of their protocols.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/litepull/litepull"
)

// Client defaults.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultMaxBytes    = 64 << 20
	DefaultAttempts    = 5
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffCap  = 10 * time.Second
)

// Client posts JSON to a service with a bearer token. Reads are idempotent,
// so a 429, a 5xx or a network error is retried with capped exponential
// backoff (honouring Retry-After); any other 4xx is not. The token is sent
// and nowhere else: never logged, never in an error.
type Client struct {
	HTTP        *http.Client
	Token       string
	MaxBytes    int64 // a response larger than this is an error
	Attempts    int
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// ConnectTimeout bounds getting a connection (DNS, TCP, TLS), and
	// ReadTimeout each wait after it: for the answer, then for each further
	// part of its body. A request that runs out fails with
	// *litepull.TimeoutError and is not retried.
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	// Final, if set, tells a 5xx answer that would fail again (as
	// StarbaseDB's answer too large to pass its Durable Object's RPC):
	// it is not retried.
	Final func(code int, body []byte) bool
}

// NewClient returns a client with the defaults.
func NewClient(token string) *Client {
	return &Client{HTTP: &http.Client{Timeout: DefaultTimeout}, Token: token, MaxBytes: DefaultMaxBytes,
		Attempts: DefaultAttempts, BackoffBase: DefaultBackoffBase, BackoffCap: DefaultBackoffCap,
		ConnectTimeout: time.Duration(litepull.DefaultConnectTimeout), ReadTimeout: time.Duration(litepull.DefaultReadTimeout)}
}

// ClientFor returns a client for a source's config: its token and its
// timeouts.
func ClientFor(cfg litepull.SourceConfig) *Client {
	return NewClient(cfg.Token).WithTimeouts(cfg.Timeouts())
}

// WithTimeouts sets the connect and read timeouts (as a source's config
// gives them: cfg.Timeouts()) and returns c. A request's whole time stays
// bounded by DefaultTimeout, or connect+read when that is longer.
func (c *Client) WithTimeouts(connect, read time.Duration) *Client {
	c.ConnectTimeout, c.ReadTimeout = connect, read
	if c.HTTP.Timeout < connect+read {
		c.HTTP.Timeout = connect + read
	}
	return c
}

// StatusError is a non-2xx answer: its code and (the start of) its body.
type StatusError struct {
	Code       int
	Body       []byte
	retryAfter time.Duration // from a Retry-After header, in seconds form
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.Code)
	switch e.Code {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (authentication failed: check the source's token)"
	}
	return msg
}

// ErrTooLarge reports a response above MaxBytes.
var ErrTooLarge = errors.New("response too large; lower the table's pageSize")

// PostJSON posts body as JSON to url and returns the response body of a 2xx
// answer. A non-2xx answer that is not retried, or still failing after the
// last attempt, is a *StatusError.
func (c *Client) PostJSON(ctx context.Context, target string, body any) ([]byte, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPost, target, payload)
}

// PostStatement posts one statement as {"sql": sql, "params": args}, the
// body of D1's and StarbaseDB's raw query endpoints (params always an
// array, never null), and returns the response body as PostJSON does.
func (c *Client) PostStatement(ctx context.Context, target, sql string, args []any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	return c.PostJSON(ctx, target, map[string]any{"sql": sql, "params": args})
}

// Get sends a GET and returns the body of a 2xx answer.
func (c *Client) Get(ctx context.Context, target string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, target, nil)
}

func (c *Client) do(ctx context.Context, method, target string, payload []byte) ([]byte, error) {
	var lastErr error
	for attempt := 0; attempt < max(c.Attempts, 1); attempt++ {
		if attempt > 0 {
			wait := min(c.BackoffBase<<(attempt-1), c.BackoffCap)
			var se *StatusError
			if errors.As(lastErr, &se) {
				if ra := retryAfter(se); ra > 0 {
					wait = min(ra, c.BackoffCap)
				}
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		data, retry, err := c.once(ctx, method, target, payload)
		if err == nil {
			return data, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// RetryAfter is how long a 429 or 503 asked the client to wait (its
// Retry-After header, in seconds form); 0 if it did not.
func (e *StatusError) RetryAfter() time.Duration { return retryAfter(e) }

// retryAfter is how long a 429 or 503 asked us to wait.
func retryAfter(se *StatusError) time.Duration {
	if se.Code != http.StatusTooManyRequests && se.Code != http.StatusServiceUnavailable {
		return 0
	}
	return se.retryAfter
}

func (c *Client) once(ctx context.Context, method, target string, payload []byte) (data []byte, retry bool, err error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := c.watch(req.URL.Host, cancel)
	defer wd.stop()
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { wd.progress() }}))
	defer func() {
		var te *litepull.TimeoutError
		if err != nil && errors.As(context.Cause(ctx), &te) {
			data, retry, err = nil, false, te
		}
	}()
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, isNetworkError(err), fmt.Errorf("%s %s: %w", method, redactURL(target), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(progressReader{resp.Body, wd}, c.MaxBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("read response: %w", err)
	}
	if int64(len(data)) > c.MaxBytes {
		return nil, false, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, c.MaxBytes)
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{Code: resp.StatusCode, Body: data[:min(len(data), 4096)]}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			se.retryAfter = time.Duration(s) * time.Second
		}
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return nil, retry && (c.Final == nil || !c.Final(resp.StatusCode, data)), se
	}
	return data, false, nil
}

// watchdog cancels a request that makes no progress: no connection
// within the connect timeout, then nothing more of the answer for the read
// timeout.
type watchdog struct {
	timer *time.Timer
	read  time.Duration

	mu sync.Mutex
	op litepull.TimeoutOp
}

func (c *Client) watch(addr string, cancel context.CancelCauseFunc) *watchdog {
	wd := &watchdog{read: c.ReadTimeout, op: litepull.OpConnect}
	connect := c.ConnectTimeout
	wd.timer = time.AfterFunc(connect, func() {
		wd.mu.Lock()
		te := &litepull.TimeoutError{Op: wd.op, After: connect, Addr: addr}
		if wd.op == litepull.OpRead {
			te = &litepull.TimeoutError{Op: litepull.OpRead, After: wd.read}
		}
		wd.mu.Unlock()
		cancel(te)
	})
	return wd
}

// progress restarts the wait: the connection is made, or bytes arrived.
func (wd *watchdog) progress() {
	wd.mu.Lock()
	wd.op = litepull.OpRead
	wd.mu.Unlock()
	wd.timer.Reset(wd.read)
}

func (wd *watchdog) stop() { wd.timer.Stop() }

// progressReader tells the watchdog of every read that brought bytes.
type progressReader struct {
	r  io.Reader
	wd *watchdog
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.wd.progress()
	}
	return n, err
}

func isNetworkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// unwrapURLError drops *url.Error's wrapping, which repeats the URL.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// redactURL keeps scheme, host and path: no user info, no query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
