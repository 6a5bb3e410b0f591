package remote

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// D1DefaultURL is Cloudflare's v4 API root.
const D1DefaultURL = "https://api.cloudflare.com/client/v4"

var d1ID = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// D1DatabaseURL is the REST root of a D1 database,
// {base}/accounts/{account}/d1/database/{database}, with base
// D1DefaultURL when empty.
func D1DatabaseURL(base, account, database string) (string, error) {
	if !d1ID.MatchString(account) || !d1ID.MatchString(database) {
		return "", errors.New("accountId and databaseId are required (letters, digits and -)")
	}
	if base == "" {
		base = D1DefaultURL
	}
	return strings.TrimSuffix(base, "/") + "/accounts/" + account + "/d1/database/" + database, nil
}

// D1Response is D1's answer to /raw.
type D1Response struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result []struct {
		Results RawResult `json:"results"`
		Success bool      `json:"success"`
	} `json:"result"`
}

// Err joins the answer's errors.
func (r *D1Response) Err() string {
	var msgs []string
	for _, e := range r.Errors {
		msgs = append(msgs, fmt.Sprintf("%s (code %v)", e.Message, e.Code))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "success: false without errors")
	}
	return strings.Join(msgs, "; ")
}

// D1Errors reads the errors of an HTTP error's body, if it is D1's JSON
// and names any.
func D1Errors(se *StatusError) (string, bool) {
	var r D1Response
	if DecodeJSON(se.Body, &r) != nil || len(r.Errors) == 0 {
		return "", false
	}
	return r.Err(), true
}

// D1Rows reads the rows of a successful /raw answer to one statement.
func D1Rows(data []byte) ([][]any, error) {
	var r D1Response
	if err := DecodeJSON(data, &r); err != nil {
		return nil, fmt.Errorf("d1: %w", err)
	}
	if !r.Success {
		return nil, errors.New("d1: " + r.Err())
	}
	if len(r.Result) != 1 {
		return nil, fmt.Errorf("d1: %d results for one statement", len(r.Result))
	}
	if !r.Result[0].Success {
		return nil, errors.New("d1: the statement did not succeed")
	}
	return r.Result[0].Results.Rows, nil
}
