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

	"github.com/litepull/litepull"
)

// HranaBaseURL checks a libSQL URL (libsql://, https:// or http://) and
// returns its https or http root, without a trailing slash.
func HranaBaseURL(raw string) (string, error) {
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

// HranaValue is a typed Hrana value: integers as decimal strings, BLOBs
// as base64.
type HranaValue struct {
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value,omitempty"`
	Base64 *string         `json:"base64,omitempty"`
}

// HranaStmt is a Hrana statement.
type HranaStmt struct {
	SQL      string       `json:"sql"`
	Args     []HranaValue `json:"args"`
	WantRows bool         `json:"want_rows"`
}

// HranaError is the error of a Hrana request or batch step: an error of
// the SQL, not of the transport.
type HranaError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

func (e *HranaError) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// EncodeHrana turns sql and its parameters into a statement that wants
// its rows.
func EncodeHrana(sql string, args []any) (HranaStmt, error) {
	st := HranaStmt{SQL: sql, Args: make([]HranaValue, len(args)), WantRows: true}
	for i, a := range args {
		v, err := encodeHranaArg(a)
		if err != nil {
			return st, fmt.Errorf("libsql: %w", err)
		}
		st.Args[i] = v
	}
	return st, nil
}

func encodeHranaArg(a any) (HranaValue, error) {
	switch v := a.(type) {
	case nil:
		return HranaValue{Type: "null"}, nil
	case int64:
		return HranaValue{Type: "integer", Value: json.RawMessage(strconv.Quote(strconv.FormatInt(v, 10)))}, nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return HranaValue{}, fmt.Errorf("cannot send %v over Hrana (JSON has no such number)", v)
		}
		return HranaValue{Type: "float", Value: json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64))}, nil
	case string:
		b, _ := json.Marshal(v)
		return HranaValue{Type: "text", Value: b}, nil
	case []byte:
		s := base64.StdEncoding.EncodeToString(v)
		return HranaValue{Type: "blob", Base64: &s}, nil
	}
	return HranaValue{}, fmt.Errorf("cannot send a %T", a)
}

// HranaRows decodes a result's rows.
func HranaRows(rows [][]HranaValue) ([][]any, error) {
	out := make([][]any, len(rows))
	for i, hr := range rows {
		out[i] = make([]any, len(hr))
		for j, v := range hr {
			var err error
			if out[i][j], err = decodeHrana(v); err != nil {
				return nil, fmt.Errorf("libsql: row %d column %d: %w", i, j, err)
			}
		}
	}
	return out, nil
}

func decodeHrana(v HranaValue) (litepull.Value, error) {
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

// HranaPipeline posts req and a close to pipelineURL on a stream of its
// own (baton null) and returns req's response result. An error answer to
// req is a *HranaError; an HTTP error a *StatusError with the server's
// message.
func HranaPipeline(ctx context.Context, c *Client, pipelineURL string, req any) (json.RawMessage, error) {
	body := map[string]any{"baton": nil, "requests": []any{req, map[string]any{"type": "close"}}}
	data, err := c.PostJSON(ctx, pipelineURL, body)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("libsql: %w: %s", se, hranaErrorBody(se.Body))
		}
		return nil, fmt.Errorf("libsql: %w", err)
	}
	var resp struct {
		Results []struct {
			Type     string `json:"type"`
			Response *struct {
				Result json.RawMessage `json:"result"`
			} `json:"response"`
			Error *HranaError `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("libsql: malformed pipeline response: %w", err)
	}
	if len(resp.Results) == 0 {
		return nil, errors.New("libsql: pipeline response has no results")
	}
	r := resp.Results[0]
	if r.Type == "error" && r.Error != nil {
		return nil, r.Error
	}
	if r.Type != "ok" || r.Response == nil {
		return nil, fmt.Errorf("libsql: unexpected pipeline result of type %q", r.Type)
	}
	return r.Response.Result, nil
}

// hranaErrorBody extracts the message of an error body ({"error": "..."},
// {"error": {"message": ...}} or {"message": "..."}), else returns the
// start of the body.
func hranaErrorBody(body []byte) string {
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
