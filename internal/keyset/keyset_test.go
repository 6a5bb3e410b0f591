package keyset_test

import (
	"reflect"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyset"
)

func TestQuery(t *testing.T) {
	schema := &litepull.TableSchema{Name: "t"}
	after := &litepull.Watermark{Cursor: int64(5), PK: []litepull.Value{int64(1), "x"}}
	through := &litepull.Watermark{Cursor: int64(9), PK: []litepull.Value{int64(2), "y"}}
	req := litepull.PageRequest{Schema: schema, Cursor: "c", PrimaryKey: []string{"a", "b"}, After: after, Through: through, Limit: 10}
	for name, tc := range map[string]struct {
		d        keyset.Dialect
		wantSQL  string
		wantArgs []any
	}{
		"RowValues": {
			keyset.Dialect{Quote: '"', Placeholder: keyset.Dollar, RowValues: true},
			`SELECT "c" FROM t WHERE ("c" IS NOT NULL) AND (("c", "a", "b") > ($1, $2, $3)) AND (("c", "a", "b") <= ($4, $5, $6)) ORDER BY "c", "a", "b" LIMIT 10`,
			[]any{int64(5), int64(1), "x", int64(9), int64(2), "y"},
		},
		"Expanded": {
			keyset.Dialect{Quote: '`', Placeholder: keyset.Question},
			"SELECT `c` FROM t WHERE (`c` IS NOT NULL) AND (`c` >= ? AND (`c` > ? OR (`c` = ? AND (`a` > ? OR (`a` = ? AND (`b` > ?)))))) " +
				"AND (`c` <= ? AND (`c` < ? OR (`c` = ? AND (`a` < ? OR (`a` = ? AND (`b` <= ?)))))) ORDER BY `c`, `a`, `b` LIMIT 10",
			// Positional placeholders: values in text order.
			[]any{int64(5), int64(5), int64(5), int64(1), int64(1), "x", int64(9), int64(9), int64(9), int64(2), int64(2), "y"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			q := keyset.New(tc.d)
			q.Keyset(req)
			sel := []string{q.Q("c")}
			if got := q.SQL(sel, "t", req); got != tc.wantSQL {
				t.Errorf("SQL:\n got %s\nwant %s", got, tc.wantSQL)
			}
			if !reflect.DeepEqual(q.Args, tc.wantArgs) {
				t.Errorf("args = %v, want %v", q.Args, tc.wantArgs)
			}
		})
	}
}

func TestCursorOnlyWatermark(t *testing.T) {
	q := keyset.New(keyset.Dialect{Quote: '"', Placeholder: keyset.Question, RowValues: true})
	req := litepull.PageRequest{Schema: &litepull.TableSchema{Name: "t"}, Cursor: "c", PrimaryKey: []string{"id"},
		After: &litepull.Watermark{Cursor: "41"}, Limit: 3}
	q.Keyset(req)
	want := `SELECT "c" FROM t WHERE ("c" IS NOT NULL) AND ("c" > ?) ORDER BY "c", "id" LIMIT 3`
	if got := q.SQL([]string{`"c"`}, "t", req); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
