package sourcetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

// testPageBytes: pages end early once their rows hold more than the byte
// budget; such a short page is not the end of the table, whether read one
// page a tick, streamed in a drain, or copied by a full refresh.
func testPageBytes(t *testing.T, h Harness) {
	create(t, h, "wide", "id "+h.Type("int")+" PRIMARY KEY", "grp "+h.Type("int"), "v "+h.Type("text"))
	const n = 200
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), int64(i % 4), fmt.Sprintf("%03d", i+1) + strings.Repeat("x", 97)}
	}
	h.Insert(t, "wide", []string{"id", "grp", "v"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "wide", CursorColumn: "grp", PageSize: 10})
	// A row holds 8 + 8 + 100 bytes: a 250-byte budget ends pages at 3 rows.
	const budget = 250

	first := result(t, f.runWith(t, litepull.RunOptions{PageBytes: budget}), "wide")
	if first.RowsPulled != 3 || !first.MorePagesAvailable {
		t.Fatalf("first tick: %d rows, more=%v; want a page cut at 3 rows, with more pages", first.RowsPulled, first.MorePagesAvailable)
	}
	// A drain streams more rows per query than a page holds (and more than
	// 16 pages' worth of limit): every page is cut, none is taken for the end.
	drain := result(t, f.runWith(t, litepull.RunOptions{PageBytes: budget, Drain: true}), "wide")
	if drain.RowsPulled != n-3 || drain.MorePagesAvailable || drain.Pages < (n-3)/3 {
		t.Fatalf("drain: %d rows in %d pages, more=%v; want %d rows in pages of 3, no more", drain.RowsPulled, drain.Pages, drain.MorePagesAvailable, n-3)
	}
	check := func(when string) {
		t.Helper()
		got := f.rows(t, "SELECT count(*), count(DISTINCT id), sum(id), sum(length(v)) FROM wide")
		want := []any{int64(n), int64(n), int64(n * (n + 1) / 2), int64(100 * n)}
		if !reflect.DeepEqual(got[0], want) {
			t.Fatalf("%s: replica (count, distinct, sum id, sum length) = %v, want %v", when, got[0], want)
		}
	}
	check("after drain")
	full := result(t, f.runWith(t, litepull.RunOptions{PageBytes: budget, Full: true}), "wide")
	if full.RowsPulled != n {
		t.Fatalf("full refresh in pages cut by bytes: %d rows, want %d", full.RowsPulled, n)
	}
	check("after full refresh")
}
