package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

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
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("libsql replica: url must look like libsql://host or https://host")
	}
	switch u.Scheme {
	case "libsql":
		u.Scheme = "https"
	case "https", "http":
	default:
		return nil, fmt.Errorf("libsql replica: url scheme %q: want libsql, https or http", u.Scheme)
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	read, write := clients(cfg)
	return &libsql{read: read, write_: write, url: strings.TrimSuffix(u.String(), "/") + "/v2/pipeline"}, nil
}

type hranaValue struct {
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value,omitempty"`
	Base64 *string         `json:"base64,omitempty"`
}

type hranaStmt struct {
	SQL      string       `json:"sql"`
	Args     []hranaValue `json:"args"`
	WantRows bool         `json:"want_rows"`
}

type hranaCond struct {
	Type string     `json:"type"`
	Step *int       `json:"step,omitempty"`
	Cond *hranaCond `json:"cond,omitempty"`
}

type hranaStep struct {
	Stmt      hranaStmt  `json:"stmt"`
	Condition *hranaCond `json:"condition,omitempty"`
}

type hranaError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

type hranaResult struct {
	Rows [][]hranaValue `json:"rows"`
}

type hranaResponse struct {
	Results []struct {
		Type     string `json:"type"`
		Response *struct {
			Type   string          `json:"type"`
			Result json.RawMessage `json:"result"`
		} `json:"response"`
		Error *hranaError `json:"error"`
	} `json:"results"`
}

func encodeHrana(st stmt) (hranaStmt, error) {
	out := hranaStmt{SQL: st.SQL, Args: make([]hranaValue, len(st.Args)), WantRows: true}
	for i, a := range st.Args {
		var v hranaValue
		switch a := a.(type) {
		case nil:
			v.Type = "null"
		case int64:
			v = hranaValue{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.FormatInt(a, 10)))}
		case float64:
			v = hranaValue{Type: "float", Value: json.RawMessage(strconv.FormatFloat(a, 'g', -1, 64))}
		case string:
			b, _ := json.Marshal(a)
			v = hranaValue{Type: "text", Value: b}
		case []byte:
			s := base64.StdEncoding.EncodeToString(a)
			v = hranaValue{Type: "blob", Base64: &s}
		default:
			return out, fmt.Errorf("libsql: cannot send a %T", a)
		}
		out.Args[i] = v
	}
	return out, nil
}

func decodeHrana(v hranaValue) (any, error) {
	switch v.Type {
	case "null":
		return nil, nil
	case "integer":
		var s string
		if err := json.Unmarshal(v.Value, &s); err != nil {
			return nil, fmt.Errorf("integer value %s is not a decimal string", v.Value)
		}
		return strconv.ParseInt(s, 10, 64)
	case "float":
		var f float64
		if err := json.Unmarshal(v.Value, &f); err != nil {
			return nil, fmt.Errorf("float value %s: %w", v.Value, err)
		}
		return f, nil
	case "text":
		var s string
		err := json.Unmarshal(v.Value, &s)
		return s, err
	case "blob":
		if v.Base64 == nil {
			return nil, errors.New("blob without base64")
		}
		b, err := base64.StdEncoding.DecodeString(*v.Base64)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(*v.Base64)
		}
		return b, err
	}
	return nil, fmt.Errorf("unknown value type %q", v.Type)
}

// pipeline posts one request and a close, and returns the request's
// response result.
func (l *libsql) pipeline(ctx context.Context, c *svc.Client, req map[string]any) (json.RawMessage, error) {
	data, err := c.PostJSON(ctx, l.url, map[string]any{"baton": nil, "requests": []any{req, map[string]any{"type": "close"}}})
	if err != nil {
		return nil, fmt.Errorf("libsql: %w", err)
	}
	var resp hranaResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("libsql: malformed pipeline response: %w", err)
	}
	if len(resp.Results) == 0 {
		return nil, errors.New("libsql: pipeline response has no results")
	}
	r := resp.Results[0]
	if r.Type == "error" && r.Error != nil {
		return nil, &sqlError{kind: "libsql", msg: r.Error.Message}
	}
	if r.Type != "ok" || r.Response == nil {
		return nil, fmt.Errorf("libsql: unexpected pipeline result of type %q", r.Type)
	}
	return r.Response.Result, nil
}

func (l *libsql) query(ctx context.Context, sql string, args []any) ([][]any, error) {
	return l.queryWith(ctx, l.read, sql, args)
}

func (l *libsql) probe(ctx context.Context, sql string) error {
	_, err := l.queryWith(ctx, l.write_, sql, nil)
	return err
}

func (l *libsql) queryWith(ctx context.Context, c *svc.Client, sql string, args []any) ([][]any, error) {
	st, err := encodeHrana(stmt{SQL: sql, Args: args})
	if err != nil {
		return nil, err
	}
	raw, err := l.pipeline(ctx, c, map[string]any{"type": "execute", "stmt": st})
	if err != nil {
		return nil, err
	}
	var res hranaResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("libsql: malformed result: %w", err)
	}
	rows := make([][]any, len(res.Rows))
	for i, hr := range res.Rows {
		rows[i] = make([]any, len(hr))
		for j, v := range hr {
			if rows[i][j], err = decodeHrana(v); err != nil {
				return nil, fmt.Errorf("libsql: row %d column %d: %w", i, j, err)
			}
		}
	}
	return rows, nil
}

// write runs stmts as one batch between BEGIN and COMMIT.
func (l *libsql) write(ctx context.Context, stmts []stmt) error {
	steps := []hranaStep{{Stmt: hranaStmt{SQL: "BEGIN", Args: []hranaValue{}}}}
	for i, s := range stmts {
		st, err := encodeHrana(s)
		if err != nil {
			return err
		}
		st.WantRows = false
		steps = append(steps, hranaStep{Stmt: st, Condition: okStep(i)})
	}
	commit := len(steps)
	steps = append(steps, hranaStep{Stmt: hranaStmt{SQL: "COMMIT", Args: []hranaValue{}}, Condition: okStep(commit - 1)},
		hranaStep{Stmt: hranaStmt{SQL: "ROLLBACK", Args: []hranaValue{}}, Condition: &hranaCond{Type: "not", Cond: okStep(commit)}})
	raw, err := l.pipeline(ctx, l.write_, map[string]any{"type": "batch", "batch": map[string]any{"steps": steps}})
	if err != nil {
		return err
	}
	var res struct {
		StepResults []json.RawMessage `json:"step_results"`
		StepErrors  []*hranaError     `json:"step_errors"`
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
