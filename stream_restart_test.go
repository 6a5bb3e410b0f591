package litepull_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// errStateWrite is a replica that fails to record a table's error state.
type errStateWrite struct {
	*replica.Replica
	fail atomic.Bool
}

func (r *errStateWrite) Apply(ctx context.Context, b litepull.Batch) error {
	for _, st := range b.States {
		if r.fail.Load() && st.LastError != "" {
			return errors.New("disk I/O error")
		}
	}
	return r.Replica.Apply(ctx, b)
}

// TestStreamRestartForgetsATableThatFailedToOpen: a run with Full starts
// the stream anew where the source is. A table that cannot be planned
// (described) in that session is not copied, and its position, whose
// changes the new stream position passes, must go too. failNow forgets it
// with a write of its own, whose failure is only logged: the session's
// own forgetting of the tables it does not stream (forgetLeft) must do
// it, or the table streams on, next session, from its old position,
// its changes up to the new stream position lost (attack finding checked,
// not a bug: this test guards it).
func TestStreamRestartForgetsATableThatFailedToOpen(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	_, r, rp := streamEngine(t, f)
	w := &errStateWrite{Replica: r}
	cfg := litepull.Config{Replica: rp, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical,
		Tables: []litepull.TableConfig{{Table: "a"}, {Table: "b"}}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := litepull.NewEngine(w, []litepull.BoundSource{{Config: cfg.Sources[0], Source: f}}, nil)
	f.commit(ins("b", int64(1), int64(1)))
	run(t, e)
	f.commit(ins("b", int64(2), int64(2)))
	f.confirmed = 2 * int64(len(f.log)) // the slot is past that row (MySQL: Confirmed is the server's position)
	mustExec(f.path, "ALTER TABLE b RENAME TO b_away")
	w.fail.Store(true)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed() != 1 {
		t.Fatalf("the run with b gone: %+v", sum.Tables)
	}
	w.fail.Store(false)
	mustExec(f.path, "ALTER TABLE b_away RENAME TO b")
	run(t, e)
	sameTables(t, f, rp, "a", "b")
}
