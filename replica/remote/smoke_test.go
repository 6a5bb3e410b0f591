package remote_test

import (
	"context"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/replica/remote"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.NewStarbase(t)
	r, err := remote.Open(ctx, remote.Config{Kind: "starbase", URL: srv.URL, Token: remotetest.Token})
	if err != nil {
		t.Fatal(err)
	}
	tg := &litepull.Target{SourceID: "s", SourceTable: "u", Dest: "u", PrimaryKey: []string{"id"},
		Columns: []litepull.Column{{Name: "id", SourceType: "INTEGER", Affinity: litepull.AffInteger}, {Name: "v", SourceType: "BLOB", Affinity: litepull.AffBlob}}}
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	var rows [][]litepull.Value
	for i := int64(0); i < 10; i++ {
		rows = append(rows, []litepull.Value{i<<60 + i, []byte{byte(i), 0}})
	}
	st := litepull.State{SourceID: "s", Table: "u", Dest: "u", CursorColumn: "id", Watermark: &litepull.Watermark{Cursor: int64(9)}, RowsTotal: 10}
	if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: rows}}, States: []litepull.State{st}}); err != nil {
		t.Fatal(err)
	}
	got, err := r.State(ctx, "s", "u")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %v", got, got.Watermark)
	keys, err := r.Keys(ctx, tg, litepull.KeyRange{})
	t.Log(keys, err)
	res, _ := srv.DB.Query("SELECT id, hex(v) FROM u", nil)
	t.Log(res.Rows)
}
