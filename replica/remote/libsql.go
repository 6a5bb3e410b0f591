package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	svc "github.com/litepull/litepull/internal/remote"
)

// libsql speaks Hrana over HTTP (POST /v2/pipeline) to a libSQL server or
// Turso. Each request is a pipeline of one request and a close, on a
// stream of its own. A write is one Hrana batch: BEGIN, the statements,
// COMMIT, each step conditioned on the one before, and a ROLLBACK if the
// COMMIT did not run: all or nothing.
type libsql struct {
	read, write_ *svc.Client
	url          string
}

func newLibSQL(cfg Config) (service, error) {
	base, err := svc.HranaBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("libsql replica: %w", err)
	}
	read, write := clients(cfg)
	return &libsql{read: read, write_: write, url: base + "/v2/pipeline"}, nil
}

type hranaCond struct {
	Type string     `json:"type"`
	Step *int       `json:"step,omitempty"`
	Cond *hranaCond `json:"cond,omitempty"`
}

type hranaStep struct {
	Stmt      svc.HranaStmt `json:"stmt"`
	Condition *hranaCond    `json:"condition,omitempty"`
}

// pipeline posts one request and a close, and returns the request's
// response result; an error answer to the request is a *sqlError.
func (l *libsql) pipeline(ctx context.Context, c *svc.Client, req map[string]any) (json.RawMessage, error) {
	raw, err := svc.HranaPipeline(ctx, c, l.url, req)
	var he *svc.HranaError
	if errors.As(err, &he) {
		return nil, &sqlError{kind: "libsql", msg: he.Message}
	}
	return raw, err
}

func (l *libsql) query(ctx context.Context, sql string, args []any) ([][]any, error) {
	return l.queryWith(ctx, l.read, sql, args)
}

func (l *libsql) probe(ctx context.Context, sql string) error {
	_, err := l.queryWith(ctx, l.write_, sql, nil)
	return err
}

func (l *libsql) queryWith(ctx context.Context, c *svc.Client, sql string, args []any) ([][]any, error) {
	st, err := svc.EncodeHrana(sql, args)
	if err != nil {
		return nil, err
	}
	raw, err := l.pipeline(ctx, c, map[string]any{"type": "execute", "stmt": st})
	if err != nil {
		return nil, err
	}
	var res struct {
		Rows [][]svc.HranaValue `json:"rows"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("libsql: malformed result: %w", err)
	}
	return svc.HranaRows(res.Rows)
}

// write runs stmts as one batch between BEGIN and COMMIT.
func (l *libsql) write(ctx context.Context, stmts []stmt) error {
	steps := []hranaStep{{Stmt: svc.HranaStmt{SQL: "BEGIN", Args: []svc.HranaValue{}}}}
	for i, s := range stmts {
		st, err := svc.EncodeHrana(s.SQL, s.Args)
		if err != nil {
			return err
		}
		st.WantRows = false
		steps = append(steps, hranaStep{Stmt: st, Condition: okStep(i)})
	}
	commit := len(steps)
	steps = append(steps, hranaStep{Stmt: svc.HranaStmt{SQL: "COMMIT", Args: []svc.HranaValue{}}, Condition: okStep(commit - 1)},
		hranaStep{Stmt: svc.HranaStmt{SQL: "ROLLBACK", Args: []svc.HranaValue{}}, Condition: &hranaCond{Type: "not", Cond: okStep(commit)}})
	raw, err := l.pipeline(ctx, l.write_, map[string]any{"type": "batch", "batch": map[string]any{"steps": steps}})
	if err != nil {
		return err
	}
	var res struct {
		StepResults []json.RawMessage `json:"step_results"`
		StepErrors  []*svc.HranaError `json:"step_errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("libsql: malformed batch result: %w", err)
	}
	for _, e := range res.StepErrors {
		if e != nil {
			return &sqlError{kind: "libsql", msg: e.Message}
		}
	}
	if len(res.StepResults) != len(steps) || isNull(res.StepResults[commit]) {
		return errors.New("libsql: the batch's COMMIT did not run")
	}
	return nil
}

func okStep(i int) *hranaCond { return &hranaCond{Type: "ok", Step: &i} }

func isNull(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// hranaBind carries an infinite REAL, which JSON has no number for, as
// text cast back.
func hranaBind(v any) (any, string) {
	if f, ok := v.(float64); ok && math.IsInf(f, 0) {
		if f > 0 {
			return "9e999", "CAST(? AS REAL)"
		}
		return "-9e999", "CAST(? AS REAL)"
	}
	return v, "?"
}
