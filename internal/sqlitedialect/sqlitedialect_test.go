package sqlitedialect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitedialect"
)

func TestAffinity(t *testing.T) {
	for decl, want := range map[string]litepull.Affinity{
		"INTEGER": litepull.AffInteger, "BIGINT": litepull.AffInteger, "VARCHAR(20)": litepull.AffText,
		"TEXT": litepull.AffText, "BLOB": litepull.AffNone, "": litepull.AffNone, "REAL": litepull.AffReal,
		"DOUBLE PRECISION": litepull.AffReal, "NUMERIC(10,2)": litepull.AffNumeric, "TIMESTAMP": litepull.AffNumeric,
		"BOOLEAN": litepull.AffNumeric,
	} {
		if got := sqlitedialect.Affinity(decl); got != want {
			t.Errorf("Affinity(%q) = %q, want %q", decl, got, want)
		}
	}
}

// TestEveryColumnAliased: every statement names its columns "c.0", "c.1",
// …, so that a service that builds each row as a JavaScript object
// (StarbaseDB) neither merges equal names nor moves "0" first.
func TestEveryColumnAliased(t *testing.T) {
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT)"); err != nil {
		t.Fatal(err)
	}
	schema := &litepull.TableSchema{Name: "t", PrimaryKey: []string{"id"}, Columns: []litepull.Column{{Name: "id"}, {Name: "v"}, {Name: "updated_at"}}}
	must := func(s sqlitedialect.Statement, err error) sqlitedialect.Statement {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pair := sqlitedialect.PageOptions{Select: func(cols []sqlitedialect.Selected) []string {
		var out []string
		for _, c := range cols {
			out = append(out, "typeof("+c.Quoted+")", c.Quoted)
		}
		return out
	}}
	req := litepull.PageRequest{Schema: schema, Columns: []string{"id", "v"}, Cursor: "updated_at", PrimaryKey: []string{"id"}, Limit: 10, Settle: time.Minute}
	ranges := []litepull.KeyRange{{Through: []litepull.Value{int64(5)}}, {After: []litepull.Value{int64(5)}}}
	for name, s := range map[string]sqlitedialect.Statement{
		"Describe":    must(sqlitedialect.Describe("t", "")),
		"Tables":      sqlitedialect.Tables(""),
		"CountNull":   must(sqlitedialect.CountNull("t", "updated_at", "")),
		"PageQuery":   must(sqlitedialect.PageQuery(req, "", pair)),
		"RangeCounts": must(sqlitedialect.RangeCounts(schema, []string{"id"}, ranges, "", sqlitedialect.PageOptions{})),
		"NoRanges":    must(sqlitedialect.RangeCounts(schema, []string{"id"}, nil, "", sqlitedialect.PageOptions{})),
		"KeysIn":      must(sqlitedialect.KeysIn(schema, []string{"id"}, [][]litepull.Value{{int64(1)}}, "", pair)),
		"Clock":       {Text: sqlitedialect.Clock},
	} {
		stmt, _, err := conn.Prepare(s.Text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := 0; i < stmt.ColumnCount(); i++ {
			if got, want := stmt.ColumnName(i), strings.Trim(sqlitedialect.Alias(i), `"`); got != want {
				t.Errorf("%s: column %d is named %q, want %q", name, i, got, want)
			}
		}
		stmt.Close()
	}
}
