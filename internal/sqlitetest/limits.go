package sqlitetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sqlitex"
)

// SetLimits makes the database enforce l on every statement, the test
// server's and the test's own.
func (d *DB) SetLimits(l remote.Limits) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for cat, v := range map[sqlite3.LimitCategory]int{sqlite3.LIMIT_VARIABLE_NUMBER: l.Params,
		sqlite3.LIMIT_COMPOUND_SELECT: l.CompoundTerms, sqlite3.LIMIT_EXPR_DEPTH: l.ExprDepth, sqlite3.LIMIT_SQL_LENGTH: l.SQLLength,
		sqlite3.LIMIT_LENGTH: l.RowBytes} {
		if v > 0 {
			d.conn.Limit(cat, v)
		}
	}
	d.limits = l
}

// Limits are the limits SetLimits set.
func (d *DB) Limits() remote.Limits {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.limits
}

// ValuesRows is the largest number of rows of a VALUES clause in q: a
// service that counts them as terms of a compound SELECT (as StarbaseDB
// was once seen to; a local workerd does not, see docs/services.md)
// refuses a VALUES clause of as many rows as its limit. The test servers
// keep this stricter rule, which litepull's statements are sized to.
func ValuesRows(q string) int {
	most := 0
	upper := strings.ToUpper(q)
	for i := 0; ; {
		j := strings.Index(upper[i:], "VALUES")
		if j < 0 {
			return most
		}
		i += j + len("VALUES")
		most = max(most, countRows(q[i:]))
	}
}

// countRows counts the parenthesized rows at the start of s: (...), (...).
func countRows(s string) int {
	rows, depth := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			k := strings.IndexByte(s[i+1:], c)
			if k < 0 {
				return rows
			}
			i += k + 1
		case c == '(':
			if depth == 0 {
				rows++
			}
			depth++
		case c == ')':
			if depth == 0 {
				return rows
			}
			depth--
		case depth == 0 && c != ',' && c != ' ' && c != '\n' && c != '\t':
			return rows
		}
	}
	return rows
}

// ErrOldSQLite is what an emulated old SQLite answers for a function it
// does not have.
var ErrOldSQLite = errors.New("no such function")

// EmulateSQLite340 makes the database answer like SQLite 3.40.1 (the
// libSQL Hrana test server's): sqlite_version() says so, there is no
// unhex(), and the date and time functions do not know the 'subsec'
// modifier (3.42), so a call that uses it returns NULL.
func (d *DB) EmulateSQLite340(tb testing.TB) {
	tb.Helper()
	helper, err := sqlite3.Open(":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { helper.Close() })
	d.mu.Lock()
	defer d.mu.Unlock()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(d.conn.CreateFunction("sqlite_version", 0, 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) { ctx.ResultText("3.40.1") }))
	must(d.conn.CreateFunction("unhex", -1, 0, func(ctx sqlite3.Context, _ ...sqlite3.Value) {
		ctx.ResultError(fmt.Errorf("%w: unhex", ErrOldSQLite))
	}))
	for _, name := range []string{"date", "time", "datetime", "julianday", "unixepoch", "strftime"} {
		must(d.conn.CreateFunction(name, -1, 0, func(ctx sqlite3.Context, args ...sqlite3.Value) {
			oldDateFunc(ctx, helper, name, args)
		}))
	}
}

// oldDateFunc runs a date function on helper (today's SQLite), unless a
// modifier is 'subsec': SQLite 3.40 returns NULL for a modifier it does not
// know.
func oldDateFunc(ctx sqlite3.Context, helper *sqlite3.Conn, name string, args []sqlite3.Value) {
	first := 1 // the modifiers follow the time value (and strftime's format)
	if name == "strftime" {
		first = 2
	}
	vals := make([]any, len(args))
	for i, a := range args {
		switch a.Type() {
		case sqlite3.INTEGER:
			vals[i] = a.Int64()
		case sqlite3.FLOAT:
			vals[i] = a.Float()
		case sqlite3.TEXT:
			vals[i] = a.Text()
			if i >= first && strings.EqualFold(strings.TrimSpace(a.Text()), "subsec") {
				ctx.ResultNull()
				return
			}
		case sqlite3.BLOB:
			vals[i] = append([]byte{}, a.RawBlob()...)
		}
	}
	q := "SELECT " + name + "(" + strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ") + ")"
	_, rows, err := sqlitex.QueryAll(helper, q, vals...)
	if err != nil {
		ctx.ResultError(err)
		return
	}
	switch v := rows[0][0].(type) {
	case nil:
		ctx.ResultNull()
	case int64:
		ctx.ResultInt64(v)
	case float64:
		ctx.ResultFloat(v)
	case string:
		ctx.ResultText(v)
	default:
		ctx.ResultError(fmt.Errorf("%s answered a %T", name, v))
	}
}
