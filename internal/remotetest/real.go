package remotetest

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/litepull/litepull/internal/remote"
)

// RealStarbase is a real StarbaseDB worker named by
// LITEPULL_REAL_STARBASE_URL and LITEPULL_REAL_STARBASE_TOKEN (its admin
// token), for running a suite against the service the test servers
// imitate (docs/services.md says how to start one locally). Tests that use
// it skip when the variables are unset; LITEPULL_REQUIRE_SERVICES does
// not require it.
//
// A worker holds one database, so every harness empties it first (all
// tables but SQLite's and StarbaseDB's own tmp_ tables), and one test
// process at a time uses it: the first harness takes a lock that the
// process holds until it exits.
type RealStarbase struct {
	URL, Token string
	client     *remote.Client
}

var realLock struct {
	once sync.Once
	err  error
}

// NewRealStarbase returns the real StarbaseDB, emptied, or skips tb.
func NewRealStarbase(tb testing.TB) *RealStarbase {
	tb.Helper()
	url, token := os.Getenv("LITEPULL_REAL_STARBASE_URL"), os.Getenv("LITEPULL_REAL_STARBASE_TOKEN")
	if url == "" || token == "" {
		tb.Skip("LITEPULL_REAL_STARBASE_URL and LITEPULL_REAL_STARBASE_TOKEN not set: no real StarbaseDB to test against")
	}
	realLock.once.Do(func() {
		realLock.err = lockProcess(filepath.Join(os.TempDir(), "litepull-real-starbase.lock"))
	})
	if realLock.err != nil {
		tb.Fatalf("real StarbaseDB: %v", realLock.err)
	}
	r := &RealStarbase{URL: strings.TrimSuffix(url, "/"), Token: token, client: remote.NewClient(token)}
	r.reset(tb)
	return r
}

// reset drops every table, view and trigger but SQLite's and StarbaseDB's
// own (tmp_*, but for the seed's tmp_replication_state, which litepull
// writes).
func (r *RealStarbase) reset(tb testing.TB) {
	tb.Helper()
	rows := r.Query(tb, `SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view')
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_cf\_%' ESCAPE '\'
		AND (name NOT LIKE 'tmp\_%' ESCAPE '\' OR name = 'tmp_replication_state')`)
	for _, row := range rows {
		r.Exec(tb, fmt.Sprintf(`DROP %s IF EXISTS "%s"`, strings.ToUpper(row[0].(string)), strings.ReplaceAll(row[1].(string), `"`, `""`)))
	}
}

// Query runs sql with args written into it as exact literals (StarbaseDB
// binds JSON numbers as REAL) and returns its rows as JSON decodes them
// (numbers as json.Number).
func (r *RealStarbase) Query(tb testing.TB, sql string, args ...any) [][]any {
	tb.Helper()
	q, err := Inline(sql, args)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := r.client.PostStatement(context.Background(), r.URL+"/query/raw", q, nil)
	if err != nil {
		tb.Fatalf("real StarbaseDB: %s: %v", abbrev(q), err)
	}
	var body struct {
		Result remote.RawResult `json:"result"`
	}
	if err := remote.DecodeJSON(data, &body); err != nil {
		tb.Fatalf("real StarbaseDB: %s: %v", abbrev(q), err)
	}
	return body.Result.Rows
}

// Exec runs sql as Query does.
func (r *RealStarbase) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	r.Query(tb, sql, args...)
}

// Insert inserts rows, one statement each, in one {"transaction": [...]}
// request.
func (r *RealStarbase) Insert(tb testing.TB, table string, cols []string, rows [][]any) {
	tb.Helper()
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	stmts := make([]statement, len(rows))
	for i, row := range rows {
		s, err := Inline(q, row)
		if err != nil {
			tb.Fatal(err)
		}
		stmts[i] = statement{SQL: s, Params: []any{}}
	}
	if _, err := r.client.PostJSON(context.Background(), r.URL+"/query/raw", map[string]any{"transaction": stmts}); err != nil {
		tb.Fatalf("real StarbaseDB: insert into %s: %v", table, err)
	}
}

// Inline replaces each ? of sql (outside quotes) with args' next value
// as an exact SQLite literal: int64, float64, string, []byte or nil.
func Inline(sql string, args []any) (string, error) {
	var b strings.Builder
	quote := rune(0)
	n := 0
	for _, c := range sql {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			if n >= len(args) {
				return "", fmt.Errorf("%s: more placeholders than %d arguments", abbrev(sql), len(args))
			}
			lit, err := literal(args[n])
			if err != nil {
				return "", err
			}
			b.WriteString(lit)
			n++
			continue
		}
		b.WriteRune(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("%s: %d placeholders for %d arguments", abbrev(sql), n, len(args))
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		switch {
		case math.IsInf(v, 1):
			return "9e999", nil
		case math.IsInf(v, -1):
			return "-9e999", nil
		case math.IsNaN(v):
			return "NULL", nil
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s, nil
	case string:
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return "CAST(X'" + hex.EncodeToString([]byte(v)) + "' AS TEXT)", nil
		}
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	case []byte:
		return "X'" + hex.EncodeToString(v) + "'", nil
	}
	return "", fmt.Errorf("no SQLite literal for %T", v)
}

func abbrev(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
