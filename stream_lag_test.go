package litepull_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

// streamLag is the engine's lag in seconds for the fake source "pg".
func streamLag(t *testing.T, e *litepull.Engine) (float64, bool) {
	t.Helper()
	for _, si := range e.StreamInfos() {
		if si.SourceID == "pg" {
			return si.LagSeconds, true
		}
	}
	return 0, false
}

// waitLag polls the lag until ok accepts it, for up to 10 s.
func waitLag(t *testing.T, e *litepull.Engine, what string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lag, seen := streamLag(t, e)
		if seen && ok(lag) {
			return lag
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %.3f s (reported %v): never %s", lag, seen, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamLagSeconds: the lag in seconds is the age of the oldest source
// change the replica lacks. It grows while the stream is behind, however
// often keepalives come (a walsender decoding a backlog sends them), and
// while one large transaction is being read; it is 0 once the stream has
// caught up.
func TestStreamLagSeconds(t *testing.T) {
	t.Cleanup(litepull.SetStreamIntervals(20*time.Millisecond, 5*time.Millisecond)) // after the follower stops
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	e, _, rp := streamEngine(t, f)
	run(t, e)
	current, sampled := f.calls()
	stop := following(t, e)
	waitLag(t, e, "0 when caught up", func(l float64) bool { return l == 0 })

	for _, stall := range []fakeStall{stallBefore, stallInside} {
		f.setStall(stall)
		f.commit(ins("b", int64(10+stall), int64(1)))
		first := waitLag(t, e, "above 0.2 s while behind", func(l float64) bool { return l > 0.2 })
		waitLag(t, e, "growing while behind", func(l float64) bool { return l > first+0.2 })
		f.setStall(0)
		eventually(t, f, rp, "b")
		waitLag(t, e, "back to 0 once caught up", func(l float64) bool { return l == 0 })
	}

	// Not followed: the replica lacks whatever the source commits now.
	stop()
	// The samples take the cheap way (a MariaDB source's Current scans
	// its binlog file for the GTID state): following calls no Current.
	if c, s := f.calls(); c != current || s == sampled {
		t.Errorf("while following: %d calls of Current, %d of SamplePosition; want 0 and some", c-current, s-sampled)
	}
	first := waitLag(t, e, "above 0 once the stream stopped", func(l float64) bool { return l > 0 })
	waitLag(t, e, "growing while stopped", func(l float64) bool { return l > first+0.2 })
	following(t, e)
	waitLag(t, e, "0 once followed again", func(l float64) bool { return l == 0 })
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// TestStreamRetainedWALWarnsRarely: the retained-WAL warning is given when
// the slot's retained WAL passes RetainedWarn, then again only once it has
// doubled; once it is back under, that is said once, and passing the
// threshold again warns again.
func TestStreamRetainedWALWarnsRarely(t *testing.T) {
	t.Cleanup(litepull.SetStreamIntervals(2*time.Millisecond, time.Millisecond)) // after the follower stops
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	_, r, _ := streamEngine(t, f)
	var logs syncBuffer
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical, Slot: "s", Publication: "p"}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: f}}, slog.New(slog.NewTextHandler(&logs, nil)))
	run(t, e)
	following(t, e)
	const warn, under = "the slot holds back much WAL", "back under the warning threshold"
	for i, step := range []struct {
		retained    int64
		warns, unds int
	}{
		{litepull.RetainedWarn / 2, 0, 0},
		{litepull.RetainedWarn + 1, 1, 0},
		{litepull.RetainedWarn * 3 / 2, 1, 0}, // more, not doubled
		{litepull.RetainedWarn*2 + 2, 2, 0},   // doubled
		{litepull.RetainedWarn / 2, 2, 1},
		{litepull.RetainedWarn + 1, 3, 1},
	} {
		f.mu.Lock()
		f.status = litepull.StreamStatus{Slot: "s", RetainedBytes: step.retained}
		f.mu.Unlock()
		refreshes(t, e, step.retained, 20)
		if w, u := logs.count(warn), logs.count(under); w != step.warns || u != step.unds {
			t.Fatalf("step %d (%d bytes retained): %d warnings, %d back-under notes; want %d, %d", i, step.retained, w, u, step.warns, step.unds)
		}
	}
}

// refreshes waits until the stream has read its status n times with
// retained bytes retained.
func refreshes(t *testing.T, e *litepull.Engine, retained int64, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last time.Time
	for seen := 0; seen < n; {
		for _, si := range e.StreamInfos() {
			if si.Status.RetainedBytes == retained && si.Updated.After(last) {
				seen, last = seen+1, si.Updated
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream read its status %d times with %d bytes retained, want %d", seen, retained, n)
		}
		time.Sleep(time.Millisecond)
	}
}
