// Package libsql is the litepull source for libSQL servers and Turso,
// spoken over HTTP with the Hrana protocol (the /v3/pipeline endpoint where
// the server has it, else /v2/pipeline).
//
// Every page is one pipeline request that opens a stream, executes one
// statement and closes the stream (baton null, then a close request), so no
// stream state or base_url is carried between requests. Hrana values are
// typed — integers travel as decimal strings, BLOBs as base64 — so they
// decode losslessly.
package libsql

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
	"sync"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
)

// Source reads a libSQL database.
type Source struct{ *remote.Source }

var _ litepull.Source = (*Source)(nil)

// New returns a source for cfg.URL (libsql://, https:// or http://) with
// cfg.Token.
func New(cfg litepull.SourceConfig) (*Source, error) {
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("libsql source %s: %w", cfg.ID, err)
	}
	e := &executor{client: remote.ClientFor(cfg), base: base}
	return &Source{remote.NewSource(e, e.client, remote.Options{Name: "libsql", Skip: []string{"libsql_", "_litestream"},
		Limits: remote.ServiceLimits["libsql"]})}, nil
}

func baseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("url is missing (libsql://your-db.turso.io)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", errors.New("url must look like libsql://host or https://host")
	}
	switch u.Scheme {
	case "libsql":
		u.Scheme = "https"
	case "https", "http":
	default:
		return "", fmt.Errorf("url scheme %q: want libsql, https or http", u.Scheme)
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return strings.TrimSuffix(u.String(), "/"), nil
}

type executor struct {
	client *remote.Client
	base   string

	mu       sync.Mutex
	pipeline string // the pipeline endpoint, once known
}

// endpoint asks the server whether it speaks Hrana 3 (GET /v3), once. A
// server that does not answer at all is an error, not a "no": falling back
// to /v2 would only wait for it a second time.
func (e *executor) endpoint(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pipeline == "" {
		_, err := e.client.Get(ctx, e.base+"/v3")
		switch {
		case err == nil:
			e.pipeline = e.base + "/v3/pipeline"
		case errors.Is(err, litepull.ErrTimeout) || ctx.Err() != nil:
			return "", err
		default:
			e.pipeline = e.base + "/v2/pipeline"
		}
	}
	return e.pipeline, nil
}

// value is a Hrana value.
type value struct {
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value,omitempty"`
	Base64 *string         `json:"base64,omitempty"`
}

type stmt struct {
	SQL      string  `json:"sql"`
	Args     []value `json:"args"`
	WantRows bool    `json:"want_rows"`
}

type request struct {
	Type string `json:"type"`
	Stmt *stmt  `json:"stmt,omitempty"`
}

type pipelineRequest struct {
	Baton    *string   `json:"baton"`
	Requests []request `json:"requests"`
}

type streamResult struct {
	Type     string `json:"type"`
	Response *struct {
		Type   string `json:"type"`
		Result *struct {
			Cols []struct {
				Name string `json:"name"`
			} `json:"cols"`
			Rows [][]value `json:"rows"`
		} `json:"result"`
	} `json:"response"`
	Error *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"error"`
}

type pipelineResponse struct {
	Baton   *string        `json:"baton"`
	BaseURL *string        `json:"base_url"`
	Results []streamResult `json:"results"`
}

// encodeArg turns a parameter into a typed Hrana value.
func encodeArg(a any) (value, error) {
	switch v := a.(type) {
	case nil:
		return value{Type: "null"}, nil
	case int64:
		return value{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.FormatInt(v, 10)))}, nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return value{}, fmt.Errorf("cannot send %v over Hrana (JSON has no such number)", v)
		}
		return value{Type: "float", Value: json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64))}, nil
	case string:
		b, _ := json.Marshal(v)
		return value{Type: "text", Value: b}, nil
	case []byte:
		s := base64.StdEncoding.EncodeToString(v)
		return value{Type: "blob", Base64: &s}, nil
	}
	return value{}, fmt.Errorf("cannot send a %T", a)
}

// decodeValue turns a Hrana value into a replica value.
func decodeValue(v value) (litepull.Value, error) {
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
		return litepull.FloatValue(f), nil
	case "text":
		var s string
		if err := json.Unmarshal(v.Value, &s); err != nil {
			return nil, fmt.Errorf("text value %s: %w", v.Value, err)
		}
		return s, nil
	case "blob":
		if v.Base64 == nil {
			return nil, errors.New("blob without base64")
		}
		b, err := base64.StdEncoding.DecodeString(*v.Base64)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(*v.Base64) // servers may leave out the padding
		}
		if err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown value type %q", v.Type)
}

// Query executes one statement in a stream of its own.
func (e *executor) Query(ctx context.Context, sql string, args []any) ([][]any, error) {
	st := &stmt{SQL: sql, Args: make([]value, len(args)), WantRows: true}
	for i, a := range args {
		v, err := encodeArg(a)
		if err != nil {
			return nil, err
		}
		st.Args[i] = v
	}
	body := pipelineRequest{Requests: []request{{Type: "execute", Stmt: st}, {Type: "close"}}}
	url, err := e.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	data, err := e.client.PostJSON(ctx, url, body)
	if err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("libsql: %w: %s", se, hranaError(se.Body))
		}
		return nil, fmt.Errorf("libsql: %w", err)
	}
	var resp pipelineResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("libsql: malformed pipeline response: %w", err)
	}
	if len(resp.Results) == 0 {
		return nil, errors.New("libsql: pipeline response has no results")
	}
	r := resp.Results[0]
	if r.Type == "error" && r.Error != nil {
		return nil, fmt.Errorf("libsql: %s (%s)", r.Error.Message, r.Error.Code)
	}
	if r.Type != "ok" || r.Response == nil || r.Response.Result == nil {
		return nil, fmt.Errorf("libsql: unexpected pipeline result of type %q", r.Type)
	}
	rows := make([][]any, len(r.Response.Result.Rows))
	for i, hr := range r.Response.Result.Rows {
		row := make([]any, len(hr))
		for j, v := range hr {
			if row[j], err = decodeValue(v); err != nil {
				return nil, fmt.Errorf("libsql: row %d column %d: %w", i, j, err)
			}
		}
		rows[i] = row
	}
	return rows, nil
}

// hranaError extracts the message of an error body ({"error": "..."} or
// {"message": "..."}), else returns the start of the body.
func hranaError(body []byte) string {
	var e struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		switch v := e.Error.(type) {
		case string:
			return v
		case map[string]any:
			if m, ok := v["message"].(string); ok {
				return m
			}
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return strings.TrimSpace(string(body[:min(len(body), 200)]))
}
