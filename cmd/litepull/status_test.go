package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

// TestStatusShowsStreams: status lists each stream's slot, position, last
// commit and applied time after the tables; a streamed source of the
// config not recorded yet says so; a record it cannot read is a warning,
// not a failure.
func TestStatusShowsStreams(t *testing.T) {
	path, _ := slotConfig(t)
	cfg, err := litepull.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	commit := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	r := &fakeStatus{states: []litepull.State{{SourceID: "pg", Table: "orders", Dest: "orders", CursorValue: "0/16B3748", NullCursorRows: -1}},
		streams: []litepull.StreamState{{SourceID: "pg", Slot: "litepull_pg", Position: "0/16B3748", Commit: commit, Applied: commit.Add(time.Second)}}}
	var out, errOut strings.Builder
	if err := printStatus(context.Background(), r, cfg, false, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	want := []string{"SOURCE  SLOT         POSITION   LAST COMMIT", "pg      litepull_pg  0/16B3748  " + commit.Format(time.RFC3339) + " (1m",
		"named   my_slot      -          -", "not streamed yet"}
	if !strings.Contains(out.String(), "orders") || !strings.Contains(out.String(), "change streams:") ||
		!strings.HasPrefix(lines[4], want[0]) || !strings.HasPrefix(lines[5], want[1]) || !strings.HasPrefix(lines[6], want[2]) ||
		!strings.HasSuffix(lines[6], want[3]) || errOut.Len() > 0 {
		t.Errorf("status:\n%s\nwant the tables, then lines starting\n%s", out.String(), strings.Join(want, "\n"))
	}

	r.err = errors.New("no stream table")
	out.Reset()
	if err := printStatus(context.Background(), r, cfg, false, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "orders") || strings.Contains(out.String(), "change streams") ||
		!strings.Contains(errOut.String(), "cannot read the change streams' record: no stream table") {
		t.Errorf("status with an unreadable stream record:\n%s\nstderr %q", out.String(), errOut.String())
	}
}

type fakeStatus struct {
	states  []litepull.State
	streams []litepull.StreamState
	err     error
}

func (f *fakeStatus) States(context.Context) ([]litepull.State, error) { return f.states, nil }
func (f *fakeStatus) StreamStates(context.Context) ([]litepull.StreamState, error) {
	return f.streams, f.err
}

// TestStatusNotesAStreamLeftBehind: a stream recorded for a source the
// config no longer streams (removed, or switched to polling) gets a note
// on the slot that keeps WAL and how to drop it; the config's own streams
// get none.
func TestStatusNotesAStreamLeftBehind(t *testing.T) {
	path, _ := slotConfig(t)
	cfg, err := litepull.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeStatus{streams: []litepull.StreamState{
		{SourceID: "pg", Slot: "litepull_pg", Position: "0/16B3748"},
		{SourceID: "gone", Slot: "litepull_gone", Position: "0/16B3748"},
	}}
	var out, errOut strings.Builder
	if err := printStatus(context.Background(), r, cfg, false, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	notes := strings.Count(out.String(), "note: the config no longer streams source")
	if notes != 1 || !strings.Contains(out.String(), "source gone.") ||
		!strings.Contains(out.String(), "SELECT pg_drop_replication_slot('litepull_gone')") {
		t.Errorf("status:\n%s\nwant one note, on source gone and its slot", out.String())
	}
}
