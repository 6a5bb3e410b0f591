package sourcetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// runWith runs the engine once with opts; every table must succeed.
func (f *fixture) runWith(tb testing.TB, opts litepull.RunOptions) *litepull.Summary {
	tb.Helper()
	sum, err := f.engine(tb).Run(context.Background(), opts)
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	mustOK(tb, sum)
	return sum
}

// idValues reads (id, v) from a replica table as a map.
func (f *fixture) idValues(tb testing.TB, table string) map[int64]string {
	tb.Helper()
	out := map[int64]string{}
	for _, r := range f.rows(tb, "SELECT id, v FROM "+table) {
		v, _ := r[1].(string)
		out[r[0].(int64)] = v
	}
	return out
}

func testSoftDeletes(t *testing.T, h Harness) {
	create(t, h, "accounts", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"), "deleted "+h.Type("int"), "updated_at "+h.Type("ts"))
	var rows [][]any
	for i := 1; i <= 20; i++ {
		rows = append(rows, []any{int64(i), "v", nil, ts(i)})
	}
	h.Insert(t, "accounts", []string{"id", "v", "deleted", "updated_at"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "accounts", CursorColumn: "updated_at", SoftDelete: "deleted", PageSize: 6})
	f.runWith(t, litepull.RunOptions{Drain: true})
	h.Exec(t, "UPDATE accounts SET deleted = 1, updated_at = "+h.Arg(1)+" WHERE id IN (3, 9, 15)", ts(100))
	h.Exec(t, "UPDATE accounts SET deleted = 0, v = 'kept', updated_at = "+h.Arg(1)+" WHERE id = 4", ts(101))
	sum := f.runWith(t, litepull.RunOptions{Drain: true})
	if r := result(t, sum, "accounts"); r.RowsDeleted != 3 {
		t.Errorf("rows deleted = %d, want 3", r.RowsDeleted)
	}
	got := f.idValues(t, "accounts")
	if len(got) != 17 || got[4] != "kept" {
		t.Fatalf("replica has %d rows (row 4: %q); want 17 with 3, 9, 15 gone", len(got), got[4])
	}
	for _, id := range []int64{3, 9, 15} {
		if _, ok := got[id]; ok {
			t.Errorf("soft-deleted row %d is still in the replica", id)
		}
	}
	st, _ := f.r.State(context.Background(), "src", "accounts")
	if st.RowsDeleted != 3 {
		t.Errorf("state rows_deleted = %d, want 3", st.RowsDeleted)
	}
}

func testFullMode(t *testing.T, h Harness) {
	// No cursor at all: mode full copies the table on every run.
	create(t, h, "settings", "k1 "+h.Type("int"), "k2 "+h.Type("int"), "v "+h.Type("text"), "PRIMARY KEY (k1, k2)")
	var rows [][]any
	for i := 1; i <= 30; i++ {
		rows = append(rows, []any{int64(i % 4), int64(i), fmt.Sprint("v", i)})
	}
	h.Insert(t, "settings", []string{"k1", "k2", "v"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "settings", Mode: litepull.ModeFull, PageSize: 7})
	sum := f.runWith(t, litepull.RunOptions{})
	if r := result(t, sum, "settings"); !r.FullRefresh || r.RowsPulled != 30 {
		t.Fatalf("first full run: %+v", r)
	}
	h.Exec(t, "DELETE FROM settings WHERE k2 IN (5, 6, 7)")
	h.Exec(t, "UPDATE settings SET v = 'changed' WHERE k2 = 8")
	f.runWith(t, litepull.RunOptions{})
	if got := f.rows(t, "SELECT count(*), sum(v = 'changed') FROM settings"); !reflect.DeepEqual(got[0], []any{int64(27), int64(1)}) {
		t.Fatalf("after deletes and a full run: (rows, changed) = %v, want 27, 1", got[0])
	}
	st, _ := f.r.State(context.Background(), "src", "settings")
	if st.LastFullRefresh.IsZero() {
		t.Error("state has no last_full_refresh_ts")
	}
	if got := f.rows(t, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'litepull_shadow_%'"); got[0][0] != int64(0) {
		t.Error("a shadow table was left behind")
	}
}

func testFullOnDemand(t *testing.T, h Harness) {
	create(t, h, "docs", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"), "updated_at "+h.Type("ts"))
	h.Insert(t, "docs", []string{"id", "v", "updated_at"}, [][]any{
		{int64(1), "a", ts(1)}, {int64(2), "b", ts(2)}, {int64(3), "no cursor", nil}, {int64(4), "d", ts(4)}})
	f := newFixture(t, h, litepull.TableConfig{Table: "docs", CursorColumn: "updated_at", PageSize: 2})
	f.runWith(t, litepull.RunOptions{Drain: true})
	h.Exec(t, "DELETE FROM docs WHERE id = 2")
	sum := f.runWith(t, litepull.RunOptions{Full: true})
	if got := f.idValues(t, "docs"); !reflect.DeepEqual(got, map[int64]string{1: "a", 3: "no cursor", 4: "d"}) {
		t.Fatalf("after a full refresh: %v; want the deleted row gone and the NULL-cursor row in", got)
	}
	if r := result(t, sum, "docs"); r.CursorValue != ts(4) || r.NullCursorRows != 1 {
		t.Errorf("full refresh result: cursor %q, NULL-cursor rows %d; want %q, 1", r.CursorValue, r.NullCursorRows, ts(4))
	}
	// Incremental runs carry on from where the source was.
	h.Insert(t, "docs", []string{"id", "v", "updated_at"}, [][]any{{int64(5), "e", ts(5)}})
	sum = f.runWith(t, litepull.RunOptions{Drain: true})
	if r := result(t, sum, "docs"); r.RowsPulled != 1 {
		t.Errorf("incremental run after a full refresh pulled %d rows, want 1", r.RowsPulled)
	}
}

func testReconcile(t *testing.T, h Harness) {
	create(t, h, "items", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"))
	const n = 2500
	var rows [][]any
	for i := 1; i <= n; i++ {
		rows = append(rows, []any{int64(i), "v"})
	}
	h.Insert(t, "items", []string{"id", "v"}, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "items", Deletes: litepull.DeletesReconcile, PageSize: 500})
	sum := f.runWith(t, litepull.RunOptions{Drain: true})
	if r := result(t, sum, "items"); !r.Reconciled || r.RowsDeleted != 0 {
		t.Fatalf("first run: %+v, want a reconcile that finds nothing", r)
	}
	deleted := []int64{1, 2, 777, 1500, 1501, 2499, 2500}
	for _, id := range deleted {
		h.Exec(t, "DELETE FROM items WHERE id = "+h.Arg(1), id)
	}
	// Due only every reconcileEvery (1h): nothing happens on a plain run...
	if r := result(t, f.runWith(t, litepull.RunOptions{Drain: true}), "items"); r.Reconciled {
		t.Fatal("reconciled again before reconcileEvery passed")
	}
	// ...and everything on demand.
	sum = f.runWith(t, litepull.RunOptions{Drain: true, Reconcile: true})
	if r := result(t, sum, "items"); r.RowsDeleted != int64(len(deleted)) {
		t.Fatalf("reconcile deleted %d rows, want %d", r.RowsDeleted, len(deleted))
	}
	got := f.idValues(t, "items")
	if len(got) != n-len(deleted) {
		t.Fatalf("replica has %d rows, want %d", len(got), n-len(deleted))
	}
	for _, id := range deleted {
		if _, ok := got[id]; ok {
			t.Errorf("row %d deleted at the source is still in the replica", id)
		}
	}
	st, _ := f.r.State(context.Background(), "src", "items")
	if st.RowsDeleted != int64(len(deleted)) || st.LastReconcile.IsZero() {
		t.Errorf("state: rows_deleted %d, last_reconcile %v", st.RowsDeleted, st.LastReconcile)
	}
}

// opsOptions vary the random-operations property test.
type opsOptions struct {
	textKey       bool // a text primary key ("k1", "k10", "k2": text order is not number order)
	nullCursors   bool // some rows are inserted with a NULL cursor (never pulled incrementally)
	schemaChanges bool // columns added with a default, and a retype where the dialect has one
	// concurrentFull: a second writer (as a CLI run -full would) refreshes
	// the table whole at random moments, taking the replica's write lock
	// as every writer process does.
	concurrentFull bool
	rounds         int
}

// Retyper is a Harness whose dialect can change a column's type in place
// (SQLite cannot): for the property test's schema changes.
type Retyper interface {
	// RetypeText changes a text column to a bounded varchar.
	RetypeText(tb testing.TB, table, column string)
}

// testRandomOps applies a fixed-seed random sequence of inserts, updates
// and deletes at the source, with runs in between, and checks that the
// replica equals the source's contents (kept here as a model). Rows
// inserted with a NULL cursor are not expected in the replica until an
// update gives them a cursor; every other row is, exactly.
func testRandomOps(t *testing.T, h Harness, o opsOptions) {
	keyType := h.Type("int")
	if o.textKey {
		keyType = h.Type("key")
	}
	create(t, h, "model", "id "+keyType+" PRIMARY KEY", "v "+h.Type("text"), "updated_at "+h.Type("ts"))
	f := newFixture(t, h, litepull.TableConfig{Table: "model", CursorColumn: "updated_at", Deletes: litepull.DeletesReconcile, PageSize: 5})
	rng := rand.New(rand.NewPCG(42, 7))
	model := map[string]string{} // key -> v, rows the replica must have
	hidden := map[string]bool{}  // keys at the source with a NULL cursor
	var added []int64            // defaults of the columns added so far
	clock, nextID := 0, 1
	var refresh chan<- struct{}
	if o.concurrentFull {
		var stop func() int
		refresh, stop = f.fullRefresher(t)
		defer func() {
			if n := stop(); n == 0 {
				t.Error("the concurrent full refresher never ran")
			}
		}()
	}
	key := func(id int) any {
		if o.textKey {
			return fmt.Sprint("k", id)
		}
		return int64(id)
	}
	for round := 0; round < o.rounds; round++ {
		for op := 0; op < 12; op++ {
			if refresh != nil && op == 6 && rng.IntN(2) == 0 {
				select { // start a full refresh now, amid this round's writes
				case refresh <- struct{}{}:
				default: // one is still running
				}
			}
			clock++
			all := append(keysOf(model), keysOf(hidden)...)
			switch k := rng.IntN(10); {
			case k < 5 || len(all) == 0:
				v := fmt.Sprint("r", round, "o", op)
				var cursor any = ts(clock)
				if o.nullCursors && rng.IntN(3) == 0 {
					cursor = nil
				}
				id := key(nextID)
				h.Insert(t, "model", []string{"id", "v", "updated_at"}, [][]any{{id, v, cursor}})
				if cursor == nil {
					hidden[fmt.Sprint(id)] = true
				} else {
					model[fmt.Sprint(id)] = v
				}
				nextID++
			case k < 8:
				id := all[rng.IntN(len(all))]
				v := fmt.Sprint("u", round, "o", op)
				h.Exec(t, "UPDATE model SET v = "+h.Arg(1)+", updated_at = "+h.Arg(2)+" WHERE id = "+h.Arg(3), v, ts(clock), keyArg(id, o.textKey))
				model[id] = v
				delete(hidden, id)
			default:
				id := all[rng.IntN(len(all))]
				h.Exec(t, "DELETE FROM model WHERE id = "+h.Arg(1), keyArg(id, o.textKey))
				delete(model, id)
				delete(hidden, id)
			}
		}
		if o.schemaChanges && round%8 == 3 {
			d := int64(100 + round)
			h.Exec(t, fmt.Sprintf("ALTER TABLE model ADD COLUMN c%d %s NOT NULL DEFAULT %d", len(added), h.Type("int"), d))
			added = append(added, d)
		}
		if rt, ok := h.(Retyper); ok && o.schemaChanges && round == o.rounds/2 {
			rt.RetypeText(t, "model", "v")
		}
		f.lockedRun(t, litepull.RunOptions{Drain: true, Reconcile: true})
		got := map[string]string{}
		for _, r := range f.rows(t, "SELECT id, v FROM model") {
			got[fmt.Sprint(r[0])] = fmt.Sprint(r[1])
		}
		if !reflect.DeepEqual(got, model) {
			t.Fatalf("round %d: replica differs from the source:\n got %v\nwant %v", round, got, model)
		}
		for i, d := range added {
			q := fmt.Sprintf("SELECT count(*) FROM model WHERE c%d IS NOT %d", i, d)
			if n := f.rows(t, q)[0][0]; n != int64(0) {
				t.Fatalf("round %d: %v rows of the replica lack column c%d's value %d", round, n, i, d)
			}
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keyArg turns a model key back into the value the source compares with.
func keyArg(k string, text bool) any {
	if text {
		return k
	}
	n, _ := strconv.ParseInt(k, 10, 64)
	return n
}

// lockedRun is runWith under the replica's write lock, as a writer process
// runs.
func (f *fixture) lockedRun(tb testing.TB, opts litepull.RunOptions) *litepull.Summary {
	tb.Helper()
	unlock, err := replica.Lock(context.Background(), f.r.Path(), "test run", time.Minute)
	if err != nil {
		tb.Fatalf("lock: %v", err)
	}
	defer unlock()
	return f.runWith(tb, opts)
}

// fullRefresher starts a second writer that, with its own replica
// connection and source, refreshes every table whole under the write lock
// each time it is sent a value, while the test goes on writing at the
// source. stop ends it and returns how many refreshes ran.
func (f *fixture) fullRefresher(tb testing.TB) (refresh chan<- struct{}, stop func() int) {
	tb.Helper()
	c := litepull.Config{Replica: f.r.Path(), Sources: []litepull.SourceConfig{f.cfg}}
	if err := c.Validate(); err != nil {
		tb.Fatal(err)
	}
	src := f.h.Open(tb, c.Sources[0])
	ctx, cancel := context.WithCancel(context.Background())
	trigger := make(chan struct{})
	done := make(chan int)
	var runErr error
	go func() {
		n := 0
		defer func() { done <- n }()
		for {
			select {
			case <-trigger:
			case <-ctx.Done():
				return
			}
			unlock, err := replica.Lock(context.Background(), c.Replica, "test run -full", time.Minute)
			if err != nil {
				runErr = err
				return
			}
			err = func() error {
				defer unlock()
				r, err := replica.Open(c.Replica)
				if err != nil {
					return err
				}
				defer r.Close()
				e := litepull.NewEngine(r, []litepull.BoundSource{{Config: c.Sources[0], Source: src}}, nil)
				sum, err := e.Run(context.Background(), litepull.RunOptions{Full: true})
				if err == nil && sum.Failed() > 0 {
					err = fmt.Errorf("%+v", sum.Tables)
				}
				return err
			}()
			if err != nil {
				runErr = err
				return
			}
			n++
		}
	}()
	return trigger, func() int {
		cancel()
		n := <-done
		src.Close()
		if runErr != nil {
			tb.Errorf("concurrent full refresh: %v", runErr)
		}
		return n
	}
}

// keyShape is a primary key for testReconcileKeySwap: its columns (kinds
// for Harness.Type) and its i-th value, in key order.
type keyShape struct {
	cols  []string
	kinds []string
	key   func(i int) []any
}

var (
	textKey      = keyShape{[]string{"k"}, []string{"key"}, func(i int) []any { return []any{fmt.Sprintf("k%04d", i)} }}
	compositeKey = keyShape{[]string{"a", "b"}, []string{"int", "key"}, func(i int) []any { return []any{int64(i / 10), fmt.Sprintf("b%04d", i)} }}
	integerKey   = keyShape{[]string{"id"}, []string{"int"}, func(i int) []any { return []any{int64(i)} }}
)

// testReconcileKeySwap deletes two replicated rows at the source and adds,
// between them, two rows the replica never gets: one with a NULL cursor,
// one committed late with a cursor below the watermark. The leaf's count
// is unchanged (and for integer keys so is the sum of the keys: 50 + 53 =
// 51 + 52); reconciliation must still find both deletes.
func testReconcileKeySwap(t *testing.T, h Harness, shape keyShape) {
	var defs []string
	for i, c := range shape.cols {
		defs = append(defs, c+" "+h.Type(shape.kinds[i]))
	}
	defs = append(defs, "v "+h.Type("text"), "updated_at "+h.Type("ts"), "PRIMARY KEY ("+strings.Join(shape.cols, ", ")+")")
	create(t, h, "swap", defs...)
	cols := append(append([]string{}, shape.cols...), "v", "updated_at")
	row := func(i int, cursor any) []any { return append(shape.key(i), fmt.Sprint("v", i), cursor) }
	const n = 250
	var rows [][]any
	for i := 1; i <= n; i++ {
		if i != 51 && i != 52 {
			rows = append(rows, row(i, ts(i)))
		}
	}
	h.Insert(t, "swap", cols, rows)
	f := newFixture(t, h, litepull.TableConfig{Table: "swap", CursorColumn: "updated_at", Deletes: litepull.DeletesReconcile, PageSize: 40})
	if r := result(t, f.runWith(t, litepull.RunOptions{Drain: true}), "swap"); r.RowsPulled != n-2 || r.RowsDeleted != 0 {
		t.Fatalf("first run: %+v, want %d rows and nothing deleted", r, n-2)
	}
	if rc, ok := f.src.(litepull.Reconciler); ok {
		schema, err := f.src.Describe(context.Background(), "swap")
		if err != nil {
			t.Fatal(err)
		}
		// Equal key sets hash alike on both sides: reconciliation reads
		// only what differs.
		hash := rc.KeyHash(schema, schema.PrimaryKey)
		if hash == litepull.HashNone {
			t.Fatal("the source has no hash for this key: reconciliation would look up every key")
		}
		CheckKeyHashes(t, f.src, f.r, "swap", hash)
	}

	where := make([]string, len(shape.cols))
	for i, c := range shape.cols {
		where[i] = c + " = " + h.Arg(i+1)
	}
	for _, i := range []int{50, 53} {
		h.Exec(t, "DELETE FROM swap WHERE "+strings.Join(where, " AND "), shape.key(i)...)
	}
	h.Insert(t, "swap", cols, [][]any{row(51, nil), row(52, ts(1))})

	sum := f.runWith(t, litepull.RunOptions{Drain: true, Reconcile: true})
	if r := result(t, sum, "swap"); r.RowsDeleted != 2 {
		t.Errorf("reconcile deleted %d rows, want 2", r.RowsDeleted)
	}
	got := map[string]bool{}
	for _, r := range f.rows(t, "SELECT v FROM swap") {
		got[r[0].(string)] = true
	}
	for _, v := range []string{"v50", "v53"} {
		if got[v] {
			t.Errorf("row %s, deleted at the source, is still in the replica", v)
		}
	}
	for _, v := range []string{"v51", "v52"} {
		if got[v] {
			t.Errorf("row %s reached the replica: the case needs rows the replica lacks", v)
		}
	}
	if len(got) != n-4 {
		t.Errorf("replica has %d rows, want %d", len(got), n-4)
	}
}

// CheckKeyHashes checks that src hashes every key of table exactly as the
// replica r does, with the hash it names (want): one range per key, so a
// mismatch names the key. A hash that never matched would keep
// reconciliation exact but make it look up every key.
func CheckKeyHashes(tb testing.TB, src litepull.Source, r *replica.Replica, table string, want litepull.KeyHash) {
	tb.Helper()
	ctx := context.Background()
	rc, ok := src.(litepull.Reconciler)
	if !ok {
		tb.Fatalf("%T cannot reconcile", src)
	}
	schema, err := src.Describe(ctx, table)
	if err != nil {
		tb.Fatal(err)
	}
	if got := rc.KeyHash(schema, schema.PrimaryKey); got != want {
		tb.Fatalf("key hash of %s = %d, want %d", table, got, want)
	}
	dest := table[strings.LastIndexByte(table, '.')+1:]
	target := &litepull.Target{SourceTable: table, Dest: dest, PrimaryKey: schema.PrimaryKey}
	ranges, stats, err := r.KeyRanges(ctx, target, 1, nil, want)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ranges) == 0 {
		tb.Fatalf("replica has no keys in %s", dest)
	}
	for lo := 0; lo < len(ranges); lo += 100 {
		hi := min(lo+100, len(ranges))
		got, err := rc.CountRanges(ctx, schema, schema.PrimaryKey, ranges[lo:hi])
		if err != nil {
			tb.Fatal(err)
		}
		for i, s := range got {
			if w := stats[lo+i]; s != w {
				tb.Errorf("key %v: source (count, checksum) = %v, replica %v", ranges[lo+i].Through, s, w)
			}
		}
	}
}
