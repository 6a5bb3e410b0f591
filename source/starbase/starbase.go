// Package starbase is the litepull source for StarbaseDB, through its
// POST {url}/query/raw endpoint.
//
// StarbaseDB answers in plain JSON: integers beyond 2^53 lose precision,
// BLOBs arrive as {}, REAL 2.0 arrives as 2, numeric parameters are bound
// as REAL. So pages select every column as (typeof, JSON-safe text) and
// parameters are bound in a form that survives (see internal/remote).
package starbase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
)

// Source reads a StarbaseDB instance.
type Source struct{ *remote.Source }

var _ litepull.Source = (*Source)(nil)

// New returns a source for cfg.URL with cfg.Token (the admin token).
func New(cfg litepull.SourceConfig) (*Source, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("starbase source %s: url must look like https://starbasedb.example.workers.dev", cfg.ID)
	}
	e := &executor{client: remote.ClientFor(cfg), url: strings.TrimSuffix(cfg.URL, "/") + "/query/raw"}
	e.client.Final = func(_ int, body []byte) bool { return bytes.Contains(body, []byte(rpcTooLarge)) }
	// tmp_ tables are StarbaseDB's own (its cache, its replication state).
	return &Source{remote.NewSource(e, e.client, remote.Options{Name: "starbase", JSON: true, Skip: []string{"tmp_"},
		Limits: remote.ServiceLimits["starbase"]})}, nil
}

// rpcTooLarge starts the error of a statement whose answer is larger than
// a Durable Object's RPC passes (32 MiB), measured on workerd.
const rpcTooLarge = "Serialized RPC arguments or return values are limited to"

type executor struct {
	client *remote.Client
	url    string
}

// Query runs one statement.
func (e *executor) Query(ctx context.Context, sql string, args []any) ([][]any, error) {
	data, err := e.client.PostStatement(ctx, e.url, sql, args)
	if err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) {
			var body struct {
				Error string `json:"error"`
			}
			if remote.DecodeJSON(se.Body, &body) == nil && body.Error != "" {
				if strings.Contains(body.Error, rpcTooLarge) {
					return nil, fmt.Errorf("starbase: %w (StarbaseDB passes at most 32 MiB of one statement's answer): %s", remote.ErrTooLarge, body.Error)
				}
				if se.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(body.Error), "unauthorized") {
					// StarbaseDB answers a wrong token with 400, not 401.
					return nil, fmt.Errorf("starbase: HTTP 400 (authentication failed: check the source's token): %s", body.Error)
				}
				return nil, fmt.Errorf("starbase: %w: %s", se, body.Error)
			}
		}
		return nil, fmt.Errorf("starbase: %w", err)
	}
	var body struct {
		Result *remote.RawResult `json:"result"`
		Error  any               `json:"error"`
	}
	if err := remote.DecodeJSON(data, &body); err != nil {
		return nil, fmt.Errorf("starbase: %w", err)
	}
	if body.Error != nil {
		return nil, fmt.Errorf("starbase: %v", body.Error)
	}
	if body.Result == nil {
		return nil, errors.New("starbase: response has no result")
	}
	return body.Result.Rows, nil
}
