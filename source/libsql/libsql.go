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
	"encoding/json"
	"errors"
	"fmt"
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
	base, err := remote.HranaBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("libsql source %s: %w", cfg.ID, err)
	}
	e := &executor{client: remote.ClientFor(cfg), base: base}
	return &Source{remote.NewSource(e, e.client, remote.Options{Name: "libsql", Skip: []string{"libsql_", "_litestream"},
		Limits: remote.ServiceLimits["libsql"]})}, nil
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

// Query executes one statement in a stream of its own.
func (e *executor) Query(ctx context.Context, sql string, args []any) ([][]any, error) {
	st, err := remote.EncodeHrana(sql, args)
	if err != nil {
		return nil, err
	}
	url, err := e.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := remote.HranaPipeline(ctx, e.client, url, map[string]any{"type": "execute", "stmt": st})
	var he *remote.HranaError
	if errors.As(err, &he) {
		return nil, fmt.Errorf("libsql: %w", he)
	}
	if err != nil {
		return nil, err
	}
	var res struct {
		Rows [][]remote.HranaValue `json:"rows"`
	}
	if string(raw) == "null" || len(raw) == 0 {
		return nil, errors.New(`libsql: unexpected pipeline result of type "ok" without a result`)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("libsql: malformed result: %w", err)
	}
	return remote.HranaRows(res.Rows)
}
