package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	svc "github.com/litepull/litepull/internal/remote"
)

// DefaultD1URL is Cloudflare's v4 API root.
const DefaultD1URL = svc.D1DefaultURL

// d1 posts to Cloudflare D1's REST API: reads to /raw, writes as
// {"batch": [...]} to /query, which D1 runs all or nothing.
type d1 struct {
	read, write_ *svc.Client
	db           string // .../accounts/{a}/d1/database/{d}
}

func newD1(cfg Config) (service, error) {
	db, err := svc.D1DatabaseURL(cfg.URL, cfg.AccountID, cfg.DatabaseID)
	if err != nil {
		return nil, fmt.Errorf("d1 replica: %w", err)
	}
	read, write := clients(cfg)
	return &d1{read: read, write_: write, db: db}, nil
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
	return svc.D1Rows(data)
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
	msg, ok := svc.D1Errors(se)
	if !ok || se.Code == http.StatusTooManyRequests || se.Code >= 500 {
		return fmt.Errorf("d1: %w", err)
	}
	if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
		return fmt.Errorf("d1: %w: %s", se, msg)
	}
	return &sqlError{kind: "d1", msg: fmt.Sprintf("HTTP %d: %s", se.Code, msg)}
}
