package remote_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/replica/remote"
)

// evTarget is a three-column table ev(id, at, v).
func evTarget() *litepull.Target {
	return &litepull.Target{SourceID: "src", SourceTable: "ev", Dest: "ev", PrimaryKey: []string{"id"},
		Columns: []litepull.Column{{Name: "id", SourceType: "INTEGER", Affinity: litepull.AffInteger},
			{Name: "at", SourceType: "INTEGER", Affinity: litepull.AffInteger}, {Name: "v", SourceType: "TEXT", Affinity: litepull.AffText}}}
}

// evBatch upserts row 1 with v and moves the state to pulled rows.
func evBatch(tg *litepull.Target, v string, pulled int64) litepull.Batch {
	return litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(1), pulled, v}}}},
		States: []litepull.State{{SourceID: "src", Table: "ev", Dest: "ev", CursorColumn: "at",
			Watermark: &litepull.Watermark{Cursor: pulled, PK: []litepull.Value{int64(1)}}, LastRowsPulled: pulled}}}
}

// replicaRow is row 1's v and the state's rows pulled, as the service has them.
func replicaRow(t *testing.T, srv *remotetest.Server) string {
	t.Helper()
	res, err := srv.Query("SELECT (SELECT v FROM ev WHERE id = 1), (SELECT last_rows_pulled FROM tmp_replication_state WHERE table_name = 'ev')", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(res.Rows[0])
}

// TestStarbaseConcurrentWriters: two litepulls commit to one StarbaseDB at
// the same time. StarbaseDB runs a request statement by statement, so the
// second request's guard runs while the first is between its guard and
// its sequence move; one of the two must still be refused as a conflict,
// never both reported written, their rows and states interleaved.
func TestStarbaseConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.NewStarbase(t)
	a := open(t, srv)
	tg := evTarget()
	if err := a.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	b := open(t, srv)
	reached, release := srv.StallWhere(t, `INSERT INTO "ev"`)
	errA := make(chan error, 1)
	go func() { errA <- a.Apply(ctx, evBatch(tg, "a", 1)) }()
	<-reached // a's guard passed; its rows are next
	errB := b.Apply(ctx, evBatch(tg, "b", 2))
	release()
	if err := <-errA; err == nil && errB == nil {
		t.Fatalf("both writers' commits were reported written; replica (v, rows pulled) = %s", replicaRow(t, srv))
	} else if !errors.Is(err, remote.ErrConflict) && !errors.Is(errB, remote.ErrConflict) {
		t.Fatalf("a: %v, b: %v: want one ErrConflict", err, errB)
	}
}

// TestStarbaseTimedOutRequestLandsLate: a request StarbaseDB is still
// running when its client gives up (read timeout) is sent again and
// commits; the next batch commits after it. When the first request then
// goes on, its statements must change nothing: the replica keeps the
// newer batch's row and state.
func TestStarbaseTimedOutRequestLandsLate(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.NewStarbase(t)
	cfg := remotetest.Config(srv)
	cfg.ReadTimeout = litepull.Duration(300 * time.Millisecond)
	r, err := remote.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tg := evTarget()
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	_, release := srv.StallWhere(t, `INSERT INTO "ev"`)
	if err := r.Apply(ctx, evBatch(tg, "v1", 1)); err != nil { // times out, sent again, commits
		t.Fatalf("first batch: %v", err)
	}
	if err := r.Apply(ctx, evBatch(tg, "v2", 2)); err != nil {
		t.Fatalf("second batch: %v", err)
	}
	before := srv.Writes()
	release()
	for deadline := time.Now().Add(5 * time.Second); srv.Writes() == before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := replicaRow(t, srv); got != "[v2 2]" {
		t.Fatalf("after the timed-out request went on, replica (v, rows pulled) = %s, want [v2 2] (the last commit)", got)
	}
}
