package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/litepull/litepull"
	svc "github.com/litepull/litepull/internal/remote"
)

// stmt is one statement of a request.
type stmt struct {
	SQL  string `json:"sql"`
	Args []any  `json:"params"`
}

// service is one kind of remote SQLite service: how it runs a read, and
// a list of statements in one request.
type service interface {
	// query runs one statement and returns its rows: replica values from
	// a typed protocol, json.Number and friends from a plain-JSON one.
	query(ctx context.Context, sql string, args []any) ([][]any, error)
	// probe runs a statement once, without retries, for whether it
	// fails.
	probe(ctx context.Context, sql string) error
	// write runs stmts, in order, in one request. An error the service
	// gave for a statement (it was refused, and the request stopped) is a
	// *sqlError; any other leaves the outcome unknown.
	write(ctx context.Context, stmts []stmt) error
}

// sqlError is a statement the service refused: the request did not commit
// (an atomic service rolled it back; StarbaseDB stopped there).
type sqlError struct {
	kind string
	msg  string
}

func (e *sqlError) Error() string { return e.kind + ": " + e.msg }

// kindInfo is what differs between kinds beyond the protocol.
type kindInfo struct {
	// atomic services commit a request's statements all or none;
	// StarbaseDB runs them one by one, keeping those before a failure.
	atomic bool
	// json services carry values as plain JSON (see svc.JSONBind).
	json bool
}

var kinds = map[string]kindInfo{
	"starbase": {atomic: false, json: true},
	"d1":       {atomic: true, json: true},
	"libsql":   {atomic: true, json: false},
}

// starbase posts to StarbaseDB's /query/raw: one statement as
// {"sql", "params"}, several as {"transaction": [...]}, which StarbaseDB
// runs one after the other, each committing on its own (its handler calls
// the Durable Object once per statement), stopping at the first error.
type starbase struct {
	read, write_ *svc.Client
	url          string
}

func newStarbase(cfg Config) (*starbase, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("starbase replica: url must look like https://starbasedb.example.workers.dev")
	}
	read, write := clients(cfg)
	return &starbase{read: read, write_: write, url: strings.TrimSuffix(cfg.URL, "/") + "/query/raw"}, nil
}

func (s *starbase) query(ctx context.Context, sql string, args []any) ([][]any, error) {
	return s.queryWith(ctx, s.read, sql, args)
}

func (s *starbase) probe(ctx context.Context, sql string) error {
	_, err := s.queryWith(ctx, s.write_, sql, nil)
	return err
}

func (s *starbase) queryWith(ctx context.Context, c *svc.Client, sql string, args []any) ([][]any, error) {
	if args == nil {
		args = []any{}
	}
	data, err := c.PostJSON(ctx, s.url, stmt{SQL: sql, Args: args})
	if err != nil {
		return nil, starbaseError(err)
	}
	var body struct {
		Result *svc.RawResult `json:"result"`
	}
	if err := svc.DecodeJSON(data, &body); err != nil {
		return nil, fmt.Errorf("starbase: %w", err)
	}
	if body.Result == nil {
		return nil, errors.New("starbase: response has no result")
	}
	return body.Result.Rows, nil
}

func (s *starbase) write(ctx context.Context, stmts []stmt) error {
	data, err := s.write_.PostJSON(ctx, s.url, map[string]any{"transaction": stmts})
	if err != nil {
		return starbaseError(err)
	}
	var body struct {
		Result []any `json:"result"`
	}
	if err := svc.DecodeJSON(data, &body); err != nil {
		return fmt.Errorf("starbase: %w", err)
	}
	if len(body.Result) != len(stmts) {
		return fmt.Errorf("starbase: %d results for %d statements", len(body.Result), len(stmts))
	}
	return nil
}

// starbaseError reads StarbaseDB's {"error": "..."}: a message from SQLite
// is a *sqlError.
func starbaseError(err error) error {
	var se *svc.StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("starbase: %w", err)
	}
	var body struct {
		Error string `json:"error"`
	}
	if svc.DecodeJSON(se.Body, &body) != nil || body.Error == "" {
		return fmt.Errorf("starbase: %w", err)
	}
	if se.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(body.Error), "unauthorized") {
		// StarbaseDB answers a wrong token with 400, not 401.
		return fmt.Errorf("starbase: HTTP 400 (authentication failed: check the replica's token): %s", body.Error)
	}
	if se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable {
		return fmt.Errorf("starbase: %w: %s", se, body.Error)
	}
	return &sqlError{kind: "starbase", msg: fmt.Sprintf("HTTP %d: %s", se.Code, body.Error)}
}

// clients returns the client for reads (which retries as sources do) and
// the one for writes, which tries once: the replica decides itself
// whether a failed write committed, and resends it only if not.
func clients(cfg Config) (read, write *svc.Client) {
	connect, readT := time.Duration(cfg.ConnectTimeout), time.Duration(cfg.ReadTimeout)
	if connect <= 0 {
		connect = time.Duration(litepull.DefaultConnectTimeout)
	}
	if readT <= 0 {
		readT = time.Duration(litepull.DefaultReadTimeout)
	}
	read = svc.NewClient(cfg.Token).WithTimeouts(connect, readT)
	write = svc.NewClient(cfg.Token).WithTimeouts(connect, readT)
	write.Attempts = 1
	return read, write
}
