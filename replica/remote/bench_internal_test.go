package remote

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/replica"
)

// TestBenchRemote measures rows/s into each test server: Apply (pages of
// 5,000 rows x 6 columns with their state, guard and sequence) next to
// the same server's raw rate for the same rows (plain multi-row INSERTs of
// the same size, in one request a page), alternating, best of 3 rounds
// each (the machine is shared). LITEPULL_BENCH=1 runs it.
func TestBenchRemote(t *testing.T) {
	if os.Getenv("LITEPULL_BENCH") == "" {
		t.Skip("LITEPULL_BENCH=1 runs the benchmark")
	}
	const pages, pageRows = 20, 5000
	for _, k := range []struct {
		name string
		srv  func(testing.TB) *remotetest.Server
	}{{"starbase", remotetest.NewStarbase}, {"d1", remotetest.NewD1}, {"libsql", remotetest.NewLibSQL}} {
		var raw, lp float64
		for range 3 {
			raw = max(raw, benchRun(t, k.srv(t), pages, pageRows, true))
			lp = max(lp, benchRun(t, k.srv(t), pages, pageRows, false))
		}
		t.Logf("%-8s litepull %8.0f rows/s   raw inserts %8.0f rows/s   ratio %.2f", k.name, lp, raw, lp/raw)
	}
}

func benchRun(t *testing.T, srv *remotetest.Server, pages, pageRows int, raw bool) float64 {
	ctx := context.Background()
	r, err := Open(ctx, remotetest.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	tg := &litepull.Target{SourceID: "b", SourceTable: "t", Dest: "t", PrimaryKey: []string{"id"}, Columns: []litepull.Column{
		{Name: "id", SourceType: "bigint", Affinity: litepull.AffInteger}, {Name: "n", SourceType: "bigint", Affinity: litepull.AffInteger},
		{Name: "s", SourceType: "text", Affinity: litepull.AffText}, {Name: "f", SourceType: "float8", Affinity: litepull.AffReal},
		{Name: "at", SourceType: "timestamptz", Affinity: litepull.AffText}, {Name: "b", SourceType: "bytea", Affinity: litepull.AffBlob}}}
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for p := 0; p < pages; p++ {
		rows := make([][]litepull.Value, pageRows)
		for i := range rows {
			id := int64(p*pageRows + i)
			rows[i] = []litepull.Value{id, id * 7, fmt.Sprintf("name %d", id), float64(id) / 3, "2026-01-01T00:00:00.000000Z", []byte{byte(id), 1, 2, 3}}
		}
		if raw {
			err = r.rawInsert(ctx, tg, rows)
		} else {
			st := litepull.State{SourceID: "b", Table: "t", Dest: "t", CursorColumn: "id", Watermark: &litepull.Watermark{Cursor: rows[pageRows-1][0]}}
			err = r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}, States: []litepull.State{st}})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return float64(pages*pageRows) / time.Since(start).Seconds()
}

// rawInsert writes rows as plain multi-row INSERTs sized to the limits,
// in one request, with nothing else: the service's own rate.
func (r *Replica) rawInsert(ctx context.Context, t *litepull.Target, rows [][]litepull.Value) error {
	stmts, err := r.multiRowStmts(t, rows, func(groups []string) string {
		return "INSERT INTO " + replica.Quote(t.Dest) + " VALUES " + strings.Join(groups, ", ")
	})
	if err != nil {
		return err
	}
	return r.svc.write(ctx, stmts)
}
