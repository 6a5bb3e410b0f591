package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	svc "github.com/litepull/litepull/internal/remote"
)

// DefaultD1URL is Cloudflare's v4 API root.
const DefaultD1URL = "https://api.cloudflare.com/client/v4"

var d1ID = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// d1 posts to Cloudflare D1's REST API: reads to /raw, writes as
// {"batch": [...]} to /query, which D1 runs all or nothing.
type d1 struct {
	read, write_ *svc.Client
	db           string // .../accounts/{a}/d1/database/{d}
}

func newD1(cfg Config) (service, error) {
	if !d1ID.MatchString(cfg.AccountID) || !d1ID.MatchString(cfg.DatabaseID) {
		return nil, errors.New("d1 replica: accountId and databaseId are required (letters, digits and -)")
	}
	base := cfg.URL
	if base == "" {
		base = DefaultD1URL
	}
	read, write := clients(cfg)
	return &d1{read: read, write_: write, db: strings.TrimSuffix(base, "/") + "/accounts/" + cfg.AccountID + "/d1/database/" + cfg.DatabaseID}, nil
}

type d1Response struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result []struct {
		Results svc.RawResult `json:"results"`
		Success bool          `json:"success"`
	} `json:"result"`
}

func (r *d1Response) err() string {
	var msgs []string
	for _, e := range r.Errors {
		msgs = append(msgs, fmt.Sprintf("%s (code %v)", e.Message, e.Code))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "success: false without errors")
	}
	return strings.Join(msgs, "; ")
}

func (d *d1) query(ctx context.Context, sql string, args []any) ([][]any, error) {
	return d.queryWith(ctx, d.read, sql, args)
}

func (d *d1) probe(ctx context.Context, sql string) error {
	_, err := d.queryWith(ctx, d.write_, sql, nil)
	return err
}

func (d *d1) queryWith(ctx context.Context, c *svc.Client, sql string, args []any) ([][]any, error) {
	data, err := c.PostStatement(ctx, d.db+"/raw", sql, args)
	if err != nil {
		return nil, d1Error(err)
	}
	var r d1Response
	if err := svc.DecodeJSON(data, &r); err != nil {
		return nil, fmt.Errorf("d1: %w", err)
	}
	if !r.Success || len(r.Result) != 1 {
		return nil, fmt.Errorf("d1: %s", r.err())
	}
	return r.Result[0].Results.Rows, nil
}

func (d *d1) write(ctx context.Context, stmts []stmt) error {
	data, err := d.write_.PostJSON(ctx, d.db+"/query", map[string]any{"batch": stmts})
	if err != nil {
		return d1Error(err)
	}
	var r struct {
		Success bool  `json:"success"`
		Result  []any `json:"result"`
	}
	if err := svc.DecodeJSON(data, &r); err != nil {
		return fmt.Errorf("d1: %w", err)
	}
	if !r.Success || len(r.Result) != len(stmts) {
		return fmt.Errorf("d1: success %v, %d results for %d statements", r.Success, len(r.Result), len(stmts))
	}
	return nil
}

// d1Error reads D1's {"errors": [...]}: an answer with errors that is not
// a rate limit or an outage is a *sqlError (D1 rolled the batch back).
func d1Error(err error) error {
	var se *svc.StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("d1: %w", err)
	}
	var r d1Response
	if svc.DecodeJSON(se.Body, &r) != nil || len(r.Errors) == 0 || se.Code == http.StatusTooManyRequests || se.Code >= 500 {
		return fmt.Errorf("d1: %w", err)
	}
	if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
		return fmt.Errorf("d1: %w: %s", se, r.err())
	}
	return &sqlError{kind: "d1", msg: fmt.Sprintf("HTTP %d: %s", se.Code, r.err())}
}
