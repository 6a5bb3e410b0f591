package sourcetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/litepull/litepull"
)

// testSchemaTravels: what Describe learns travels with the schema it
// returns, so another instance of the source (a reopened one, say) reads
// with it exactly as the describing one does, and a schema built by hand
// reads the right values or fails, never misdecodes.
func testSchemaTravels(t *testing.T, h Harness) {
	create(t, h, "travel", "id "+h.Type("int")+" PRIMARY KEY", "v "+h.Type("text"), "updated_at "+h.Type("ts"))
	h.Insert(t, "travel", []string{"id", "v", "updated_at"}, [][]any{
		{int64(1), "one", ts(1)}, {int64(2), nil, ts(2)}, {int64(3), "héllo", ts(3)}})
	ctx := context.Background()
	cfg := h.Config()
	first, second := h.Open(t, cfg), h.Open(t, cfg)
	t.Cleanup(func() { first.Close(); second.Close() })
	schema, err := first.Describe(ctx, "travel")
	if err != nil {
		t.Fatal(err)
	}
	req := func(s *litepull.TableSchema) litepull.PageRequest {
		return litepull.PageRequest{Schema: s, Columns: []string{"updated_at", "id", "v"}, Cursor: "updated_at",
			PrimaryKey: []string{"id"}, Limit: 10}
	}
	want, err := first.ReadPage(ctx, req(schema))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Rows) != 3 {
		t.Fatalf("the describing source read %d rows, want 3", len(want.Rows))
	}
	got, err := second.ReadPage(ctx, req(schema))
	if err != nil {
		t.Fatalf("another instance reading with the described schema: %v", err)
	}
	if !reflect.DeepEqual(got.Rows, want.Rows) {
		t.Fatalf("another instance read %v, the describing one %v", got.Rows, want.Rows)
	}
	// A schema built by hand: described on the fly, or refused.
	if got, err := second.ReadPage(ctx, req(&litepull.TableSchema{Name: "travel"})); err == nil && !reflect.DeepEqual(got.Rows, want.Rows) {
		t.Fatalf("a schema built by hand read %v, want %v (or an error)", got.Rows, want.Rows)
	}

	rc, ok := first.(litepull.Reconciler)
	if !ok {
		return
	}
	rc2 := second.(litepull.Reconciler)
	if a, b := rc.KeyHash(schema, []string{"id"}), rc2.KeyHash(schema, []string{"id"}); a != b {
		t.Fatalf("KeyHash: %v on the describing instance, %v on another", a, b)
	}
	all := []litepull.KeyRange{{}}
	wantStats, err := rc.CountRanges(ctx, schema, []string{"id"}, all)
	if err != nil {
		t.Fatal(err)
	}
	gotStats, err := rc2.CountRanges(ctx, schema, []string{"id"}, all)
	if err != nil || !reflect.DeepEqual(gotStats, wantStats) {
		t.Fatalf("CountRanges on another instance: %v, %v; want %v", gotStats, err, wantStats)
	}
	keys := [][]litepull.Value{{int64(2)}, {int64(9)}}
	found, err := rc2.ExistingKeys(ctx, schema, []string{"id"}, keys)
	if err != nil || !reflect.DeepEqual(found, keys[:1]) {
		t.Fatalf("ExistingKeys on another instance: %v, %v; want [[2]]", found, err)
	}
	// By hand: the hash agrees with the checksums, the keys are right.
	hand := &litepull.TableSchema{Name: "travel", Columns: schema.Columns, PrimaryKey: schema.PrimaryKey}
	if stats, err := rc2.CountRanges(ctx, hand, []string{"id"}, all); err == nil {
		want := wantStats[0]
		if rc2.KeyHash(hand, []string{"id"}) == litepull.HashNone {
			want.Checksum = 0
		}
		if stats[0] != want {
			t.Fatalf("CountRanges of a schema built by hand: %v, want %v (KeyHash %v)", stats[0], want, rc2.KeyHash(hand, []string{"id"}))
		}
	}
	if found, err := rc2.ExistingKeys(ctx, hand, []string{"id"}, keys); err == nil && !reflect.DeepEqual(found, keys[:1]) {
		t.Fatalf("ExistingKeys of a schema built by hand: %v, want [[2]] (or an error)", found)
	}
}
