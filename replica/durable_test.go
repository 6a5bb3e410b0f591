package replica_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// TestSyncBatchSyncsTheWAL: a batch with Sync is committed, then the
// write-ahead log synced to disk (whether applied alone or in a
// transaction); other batches are not.
func TestSyncBatchSyncsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var synced []string
	replica.SetOnWALSync(func(p string) { synced = append(synced, p) })
	defer replica.SetOnWALSync(nil)
	ctx := context.Background()
	st := func(pos string) *litepull.StreamState {
		return &litepull.StreamState{SourceID: "pg", Slot: "s", Position: litepull.Position(pos)}
	}
	if err := r.Apply(ctx, litepull.Batch{Stream: st("1")}); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 0 {
		t.Fatalf("a plain batch synced the WAL: %v", synced)
	}
	if err := r.Apply(ctx, litepull.Batch{Stream: st("2"), Sync: true}); err != nil {
		t.Fatal(err)
	}
	tx, err := r.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, litepull.Batch{Stream: st("3"), Sync: true}); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 {
		t.Fatalf("synced %v before the transaction committed", synced)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if want := path + "-wal"; len(synced) != 2 || synced[0] != want || synced[1] != want {
		t.Fatalf("synced %v, want %s twice", synced, want)
	}
}
