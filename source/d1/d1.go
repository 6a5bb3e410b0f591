// Package d1 is the litepull source for Cloudflare D1, through its REST
// API's /raw endpoint:
// POST {base}/accounts/{account_id}/d1/database/{database_id}/raw.
//
// D1 answers in plain JSON, where integers above 2^53 and BLOBs do not
// survive, so pages select every column as (typeof, JSON-safe text) and
// parameters are bound in a form that survives (see internal/remote).
package d1

import (
	"context"
	"errors"
	"fmt"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
)

// DefaultBaseURL is Cloudflare's v4 API root.
const DefaultBaseURL = remote.D1DefaultURL

// Source reads a D1 database.
type Source struct{ *remote.Source }

var _ litepull.Source = (*Source)(nil)

// New returns a source for cfg.AccountID and cfg.DatabaseID with cfg.Token;
// cfg.URL overrides the API root (tests, proxies).
func New(cfg litepull.SourceConfig) (*Source, error) {
	db, err := remote.D1DatabaseURL(cfg.URL, cfg.AccountID, cfg.DatabaseID)
	if err != nil {
		return nil, fmt.Errorf("d1 source %s: %w", cfg.ID, err)
	}
	e := &executor{client: remote.ClientFor(cfg), url: db + "/raw"}
	return &Source{remote.NewSource(e, e.client, remote.Options{Name: "d1", JSON: true, Skip: []string{"_cf_"}, Limits: remote.ServiceLimits["d1"]})}, nil
}

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
			if msg, ok := remote.D1Errors(se); ok {
				return nil, fmt.Errorf("%w: %w", se, errors.New("d1: "+msg))
			}
			return nil, fmt.Errorf("d1: %w", se)
		}
		return nil, fmt.Errorf("d1: %w", err)
	}
	return remote.D1Rows(data)
}
