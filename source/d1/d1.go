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
	"regexp"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
)

// DefaultBaseURL is Cloudflare's v4 API root.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Source reads a D1 database.
type Source struct{ *remote.Source }

var _ litepull.Source = (*Source)(nil)

var idRE = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// New returns a source for cfg.AccountID and cfg.DatabaseID with cfg.Token;
// cfg.URL overrides the API root (tests, proxies).
func New(cfg litepull.SourceConfig) (*Source, error) {
	if !idRE.MatchString(cfg.AccountID) || !idRE.MatchString(cfg.DatabaseID) {
		return nil, fmt.Errorf("d1 source %s: accountId and databaseId are required (letters, digits and -)", cfg.ID)
	}
	base := cfg.URL
	if base == "" {
		base = DefaultBaseURL
	}
	e := &executor{client: remote.ClientFor(cfg),
		url: strings.TrimSuffix(base, "/") + "/accounts/" + cfg.AccountID + "/d1/database/" + cfg.DatabaseID + "/raw"}
	return &Source{remote.NewSource(e, e.client, remote.Options{Name: "d1", JSON: true, Skip: []string{"_cf_"}, Limits: remote.ServiceLimits["d1"]})}, nil
}

type executor struct {
	client *remote.Client
	url    string
}

type response struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result []struct {
		Results remote.RawResult `json:"results"`
		Success bool             `json:"success"`
	} `json:"result"`
}

func (r *response) err() error {
	var msgs []string
	for _, e := range r.Errors {
		msgs = append(msgs, fmt.Sprintf("%s (code %v)", e.Message, e.Code))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "success: false without errors")
	}
	return errors.New("d1: " + strings.Join(msgs, "; "))
}

// Query runs one statement.
func (e *executor) Query(ctx context.Context, sql string, args []any) ([][]any, error) {
	data, err := e.client.PostStatement(ctx, e.url, sql, args)
	if err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) {
			var r response
			if remote.DecodeJSON(se.Body, &r) == nil && len(r.Errors) > 0 {
				return nil, fmt.Errorf("%w: %w", se, r.err())
			}
			return nil, fmt.Errorf("d1: %w", se)
		}
		return nil, fmt.Errorf("d1: %w", err)
	}
	var r response
	if err := remote.DecodeJSON(data, &r); err != nil {
		return nil, fmt.Errorf("d1: %w", err)
	}
	if !r.Success {
		return nil, r.err()
	}
	if len(r.Result) != 1 {
		return nil, fmt.Errorf("d1: %d results for one statement", len(r.Result))
	}
	if !r.Result[0].Success {
		return nil, errors.New("d1: the statement did not succeed")
	}
	return r.Result[0].Results.Rows, nil
}
