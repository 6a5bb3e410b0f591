package replica_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// TestDriverPanicIsAnError: the SQLite driver panics when its memory runs
// out while it copies a value in. Such a panic fails the page, rolls it
// back, and leaves the replica usable; it used to end the process.
func TestDriverPanicIsAnError(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	tg := target("t", []string{"id"}, "id", "v")
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	oom := errors.New("sqlite3: out of memory")
	replica.SetTestHookAfterRow(func() { panic(oom) })
	st := litepull.State{SourceID: "s", Table: "src_t", Watermark: &litepull.Watermark{Cursor: int64(1), PK: []litepull.Value{int64(1)}}}
	err = commitPage(ctx, r, tg, [][]litepull.Value{{int64(1), "a"}}, st)
	replica.SetTestHookAfterRow(nil)
	if !errors.Is(err, oom) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("CommitPage with a driver panic = %v, want the panic as an error", err)
	}
	if got, _ := r.State(ctx, "s", "src_t"); got.Watermark != nil {
		t.Fatalf("the failed page left a watermark %v", got.Watermark)
	}
	// The replica works on: same statement, a new page.
	if err := commitPage(ctx, r, tg, [][]litepull.Value{{int64(2), "b"}}, st); err != nil {
		t.Fatalf("CommitPage after a recovered panic: %v", err)
	}
	_, rows, err := r.Query(ctx, "SELECT id, v FROM t")
	if want := [][]any{{int64(2), "b"}}; err != nil || !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %v, %v; want %v", rows, err, want)
	}
}

// TestHugeValuesCommit writes two 100 MB values in one page: the driver's
// default memory (256 MiB) ran out and it panicked.
func TestHugeValuesCommit(t *testing.T) {
	r, err := replica.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	tg := target("t", []string{"id"}, "id", "v")
	tg.Columns[1].Affinity = litepull.AffBlob
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	const size = 100_000_000
	big := make([]byte, size)
	st := litepull.State{SourceID: "s", Table: "src_t"}
	if err := commitPage(ctx, r, tg, [][]litepull.Value{{int64(1), big}, {int64(2), big}}, st); err != nil {
		t.Fatalf("commit two %d-byte values: %v", size, err)
	}
	_, rows, err := r.Query(ctx, "SELECT id, length(v) FROM t ORDER BY id")
	if want := [][]any{{int64(1), int64(size)}, {int64(2), int64(size)}}; err != nil || !reflect.DeepEqual(rows, want) {
		t.Fatalf("(id, length) = %v, %v; want %v", rows, err, want)
	}
}
