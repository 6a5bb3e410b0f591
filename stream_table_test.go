package litepull_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

// TestStreamRunOfAnUnknownTableFails: run -full -table T of a streamed
// source where T is no table of it (a typo, after the README told the
// user to copy T again) copied nothing and said ok; as for a polled
// source, it fails saying no table matches. A table named by its dest
// still matches.
func TestStreamRunOfAnUnknownTableFails(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, _, _ := streamEngine(t, f)
	run(t, e)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true, Table: "nosuch"})
	if err == nil || !strings.Contains(err.Error(), "no table matches") {
		t.Fatalf("run -full -table nosuch: %v, %+v; want no table matches", err, sum)
	}
	sum, err = e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true, Table: "a"})
	if err != nil || sum.Failed() > 0 || !copied(sum, "a") {
		t.Fatalf("run -full -table a: %v, %+v", err, sum)
	}
}

// copied reports whether a run copied the table again.
func copied(sum *litepull.Summary, table string) bool {
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.FullRefresh
		}
	}
	return false
}

// TestStreamFullAfterSlotRenamedWarnsOfTheOldSlot: the config names a new
// slot and the user runs -full (or resnapshot: auto copies every table):
// the stream starts anew on the new slot, and the replica's record of the
// old one, which keeps WAL at the source until it is dropped, is gone.
// The old slot was said nowhere; the run warns, naming it and how to drop it.
func TestStreamFullAfterSlotRenamedWarnsOfTheOldSlot(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	_, r, _ := streamEngine(t, f)
	engineOn := func(slot string, logs *syncBuffer) *litepull.Engine {
		cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical, Slot: slot, Publication: "p"}
		return litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: f}}, slog.New(slog.NewTextHandler(logs, nil)))
	}
	var logs syncBuffer
	run(t, engineOn("old_slot", &logs))
	sum, err := engineOn("new_slot", &logs).Run(context.Background(), litepull.RunOptions{Drain: true, Full: true})
	if err != nil || sum.Failed() > 0 {
		t.Fatalf("run -full on the new slot: %v %+v", err, sum)
	}
	if logs.count("old_slot") == 0 || logs.count("slot drop") == 0 {
		t.Fatalf("the run on a new slot did not say the old one keeps WAL")
	}
}
