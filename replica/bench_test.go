package replica_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/litepull/litepull"
)

// BenchmarkApplyPage applies pages of 1000 new rows to a replica file, as a
// polling run does: the cost of the write path per row.
func BenchmarkApplyPage(b *testing.B) {
	const page = 1000
	tg := target("t", []string{"id"}, "id", "v", "w")
	r := newFileReplica(b, tg)
	ctx := context.Background()
	rows := make([][]litepull.Value, page)
	next := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rows {
			next++
			rows[j] = []litepull.Value{next, fmt.Sprintf("value %d", next), "a text column of moderate length"}
		}
		st := litepull.State{SourceID: "s", Table: "src_t", Watermark: &litepull.Watermark{Cursor: next, PK: []litepull.Value{next}}}
		if err := commitPage(ctx, r, tg, rows, st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/row")
}

// BenchmarkApplyKeep applies pages of 1000 updates that keep a column's
// value (a change stream's unchanged TOAST values): each reads the row.
func BenchmarkApplyKeep(b *testing.B) {
	const page = 1000
	tg := target("t", []string{"id"}, "id", "v", "w")
	r := newFileReplica(b, tg)
	ctx := context.Background()
	rows := make([][]litepull.Value, page)
	for j := range rows {
		rows[j] = []litepull.Value{int64(j), "v", "a text column of moderate length"}
	}
	if err := r.Apply(ctx, upserts(tg, rows...)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rows {
			rows[j] = []litepull.Value{int64(j), fmt.Sprintf("value %d", i), litepull.Keep{}}
		}
		if err := r.Apply(ctx, upserts(tg, rows...)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/row")
}
