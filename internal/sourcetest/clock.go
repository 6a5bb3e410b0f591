package sourcetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

// NaiveTimes is implemented by harnesses whose dialect has a timestamp
// type without a time zone (timestamp, DATETIME, or text in SQLite): the
// suite then checks that settle places such values in their time zone.
type NaiveTimes interface {
	// NaiveType names the type; it accepts "2006-01-02 15:04:05.000000".
	NaiveType() string
}

// WholeSeconds is implemented by harnesses whose catalog knows a
// timestamp type that keeps whole seconds (DATETIME, timestamp(0)).
type WholeSeconds interface {
	// WholeSecondType names the type; it accepts "2006-01-02 15:04:05".
	WholeSecondType() string
}

// runClock runs the tests of cursors against the source's clock.
func runClock(t *testing.T, newHarness func(tb testing.TB) Harness) {
	t.Run("SettleInTimeZone", func(t *testing.T) { testSettleZone(t, newHarness(t)) })
	t.Run("FarFutureCursorWarns", func(t *testing.T) { testFarFuture(t, newHarness(t)) })
	t.Run("FarFutureHeldBySettleWarns", func(t *testing.T) { testFarFutureSettle(t, newHarness(t)) })
	t.Run("WholeSecondCursorRereadsItsSecond", func(t *testing.T) { testWholeSeconds(t, newHarness(t)) })
}

// wallClock is the time now plus d as a wall-clock time of zone, the way
// an application whose session is in that zone writes it.
func wallClock(tb testing.TB, zone string, d time.Duration) string {
	tb.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		tb.Fatal(err)
	}
	return time.Now().In(loc).Add(d).Format("2006-01-02 15:04:05.000000")
}

// testSettleZone: values without a time zone are written in the
// application's zone; settle must measure them against the source's clock
// in that zone, not in UTC. West of UTC, a UTC horizon lets recent rows
// through hours early (late commits are then lost); east of it, it holds
// settled rows back for hours.
func testSettleZone(t *testing.T, h Harness) {
	nh, ok := h.(NaiveTimes)
	if !ok {
		t.Skip("the dialect has no timestamp type without a time zone")
	}
	settle := litepull.Duration(time.Minute)
	for _, zone := range []string{"America/New_York", "Asia/Tokyo"} {
		table := "local_" + strings.ToLower(zone[:strings.IndexByte(zone, '/')])
		create(t, h, table, "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+nh.NaiveType())
		h.Insert(t, table, []string{"id", "updated_at"}, [][]any{
			{int64(1), wallClock(t, zone, -2*time.Minute)},
			{int64(2), wallClock(t, zone, -30*time.Second)},
		})
		f := newFixture(t, h, litepull.TableConfig{Table: table, CursorColumn: "updated_at", Settle: &settle, TimeZone: zone})
		mustOK(t, f.run(t, true))
		if got := f.rows(t, "SELECT id FROM "+table+" ORDER BY id"); !reflect.DeepEqual(got, [][]any{{int64(1)}}) {
			t.Errorf("%s, settle 1m: replica ids %v, want [1]: the row written 2 minutes ago (%s local time) is settled, the one 30 seconds ago is not",
				zone, got, zone)
		}
	}
}

// testFarFuture: a cursor value far in the future moves the watermark past
// every real row to come. The table keeps running, but its summary, state
// and log say so, with the way out.
func testFarFuture(t *testing.T, h Harness) {
	create(t, h, "future", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	h.Insert(t, "future", []string{"id", "updated_at"}, [][]any{{int64(1), h.Now(-time.Hour)}, {int64(2), h.Now(10 * 365 * 24 * time.Hour)}})
	f := newFixture(t, h, litepull.TableConfig{Table: "future", CursorColumn: "updated_at"})
	sum := f.run(t, true)
	mustOK(t, sum)
	r := result(t, sum, "future")
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "ahead of the source's clock") || !strings.Contains(r.Warnings[0], "-source src -table future") {
		t.Fatalf("warnings = %q, want one saying the cursor is ahead of the source's clock, and how to reset", r.Warnings)
	}
	if d := 10 * 365 * 24 * time.Hour; r.CursorAheadSeconds < (d - 2*time.Hour).Seconds() {
		t.Errorf("CursorAheadSeconds = %v, want about %v", r.CursorAheadSeconds, d.Seconds())
	}
	st, err := f.r.State(context.Background(), "src", "future")
	if err != nil {
		t.Fatal(err)
	}
	if st.CursorAhead != r.Warnings[0] {
		t.Fatalf("state cursorAhead = %q, want the warning", st.CursorAhead)
	}

	// A later run still warns (the watermark did not move), and the table
	// is not failed.
	h.Insert(t, "future", []string{"id", "updated_at"}, [][]any{{int64(3), h.Now(-time.Minute)}})
	sum = f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "future"); len(r.Warnings) != 1 || r.RowsPulled != 0 {
		t.Fatalf("second run: %d rows, warnings %q; want 0 rows (row 3 is behind the watermark) and the warning", r.RowsPulled, r.Warnings)
	}

	// The way out: fix the row at the source, reset, run.
	h.Exec(t, "DELETE FROM future WHERE id = 2")
	if err := f.r.ResetState(context.Background(), "src", "future"); err != nil {
		t.Fatal(err)
	}
	sum = f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "future"); len(r.Warnings) != 0 || r.CursorAheadSeconds != 0 {
		t.Fatalf("after the fix and a reset: warnings %q, want none", r.Warnings)
	}
	if st, _ := f.r.State(context.Background(), "src", "future"); st.CursorAhead != "" {
		t.Fatalf("after the fix and a reset: state cursorAhead = %q, want none", st.CursorAhead)
	}
	if got := f.rows(t, "SELECT id FROM future WHERE id = 3"); len(got) != 1 {
		t.Fatalf("after the fix and a reset: row 3 is not in the replica")
	}
}

// testWholeSeconds: with a cursor that keeps whole seconds, many rows share
// the watermark's value. A row with a lower key changed later in that same
// second sorts behind the watermark; the default lookback of one second
// re-reads the second and finds it. Turning lookback off says what it costs.
func testWholeSeconds(t *testing.T, h Harness) {
	wh, ok := h.(WholeSeconds)
	if !ok {
		t.Skip("the catalog has no whole-second timestamp type")
	}
	create(t, h, "ws", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"), "updated_at "+wh.WholeSecondType())
	const second = "2026-01-01 10:00:05"
	h.Insert(t, "ws", []string{"id", "v", "updated_at"}, [][]any{{int64(1), "a", second}, {int64(2), "b", second}})
	f := newFixture(t, h, litepull.TableConfig{Table: "ws", CursorColumn: "updated_at"})
	mustOK(t, f.run(t, true))
	// Row 1 changes in the watermark's second, after the watermark (its
	// second, id 2) passed it.
	h.Exec(t, "UPDATE ws SET v = 'changed' WHERE id = 1")
	sum := f.run(t, true)
	mustOK(t, sum)
	if got := f.rows(t, "SELECT v FROM ws WHERE id = 1"); !reflect.DeepEqual(got, [][]any{{"changed"}}) {
		t.Fatalf("row 1 changed in the watermark's second: replica has %v, want [[changed]]", got)
	}
	if r := result(t, sum, "ws"); r.RowsReread != 2 || len(r.Warnings) != 0 {
		t.Errorf("re-read %d rows with warnings %q, want the watermark's second (2 rows) and no warning", r.RowsReread, r.Warnings)
	}

	// lookback: 0 turns the re-read off, and validate and the run say what
	// that costs.
	off := litepull.Lookback{}
	f.cfg.Tables[0].Lookback = &off
	checks := f.engine(t).Check(context.Background())
	if len(checks) != 1 || len(checks[0].Warnings) != 1 || !strings.Contains(checks[0].Warnings[0], "whole seconds") {
		t.Fatalf("validate with lookback 0: %+v, want a whole-seconds warning", checks)
	}
	if r := result(t, f.run(t, false), "ws"); len(r.Warnings) != 1 || r.Error != "" {
		t.Fatalf("run with lookback 0: warnings %q, error %q; want the whole-seconds warning and no error", r.Warnings, r.Error)
	}
}

// testFarFutureSettle: with settle, a row ahead of the clock is never read,
// so the watermark never shows it; the warning must come all the same, and
// go once the row is fixed.
func testFarFutureSettle(t *testing.T, h Harness) {
	create(t, h, "held", "id "+h.Type("int")+" PRIMARY KEY", "updated_at "+h.Type("ts"))
	h.Insert(t, "held", []string{"id", "updated_at"}, [][]any{{int64(1), h.Now(-time.Hour)}, {int64(2), h.Now(30 * time.Minute)}})
	settle := litepull.Duration(time.Second)
	f := newFixture(t, h, litepull.TableConfig{Table: "held", CursorColumn: "updated_at", Settle: &settle})
	sum := f.run(t, true)
	mustOK(t, sum)
	r := result(t, sum, "held")
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "settle holds it back") {
		t.Fatalf("warnings = %q, want one saying a row ahead of the clock is held back", r.Warnings)
	}
	if st, _ := f.r.State(context.Background(), "src", "held"); st.CursorAhead == "" {
		t.Fatal("state has no cursorAhead warning")
	}
	h.Exec(t, "UPDATE held SET updated_at = "+h.Arg(1)+" WHERE id = 2", h.Now(-time.Minute))
	sum = f.run(t, true)
	mustOK(t, sum)
	if r := result(t, sum, "held"); len(r.Warnings) != 0 || r.RowsPulled != 1 {
		t.Fatalf("after the fix: %d rows, warnings %q; want row 2 and no warning", r.RowsPulled, r.Warnings)
	}
}
