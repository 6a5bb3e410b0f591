package litepull_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// slowCatalog is a fake source whose Describe takes a while, as one does
// across a network: each round trip costs its latency.
type slowCatalog struct {
	*fakeChanges
	took    time.Duration
	spent   atomic.Int64 // nanoseconds in Describe
	describ atomic.Int64
}

func (s *slowCatalog) Describe(ctx context.Context, table string) (*litepull.TableSchema, error) {
	start := time.Now()
	time.Sleep(s.took)
	defer func() { s.spent.Add(int64(time.Since(start))); s.describ.Add(1) }()
	return s.fakeChanges.Describe(ctx, table)
}

// TestFollowDescribesWithinAShareOfItsTime: a following stream describes
// its tables afresh every statusEvery, one round trip per table, in the
// loop that applies changes. Where that takes longer than statusEvery
// (200 tables 50 ms away: 10 s), the stream did nothing else: it described
// again at its next keepalive. The checks now take at most about a tenth
// of its time.
func TestFollowDescribesWithinAShareOfItsTime(t *testing.T) {
	defer litepull.SetStreamIntervals(5*time.Millisecond, time.Millisecond)()
	f := newFakeChanges(t, fakeSchema, fakeCols)
	slow := &slowCatalog{fakeChanges: f, took: 20 * time.Millisecond}
	path := filepath.Join(t.TempDir(), "r.db")
	cfg := litepull.Config{Replica: path, Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: slow}}, nil)
	run(t, e)
	slow.spent.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := e.Follow(ctx, "pg"); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow: %v", err)
	}
	share := float64(slow.spent.Load()) / float64(time.Since(start))
	t.Logf("%d describes, %.0f%% of the time", slow.describ.Load(), 100*share)
	if share > 0.25 {
		t.Fatalf("the stream spent %.0f%% of its time describing its tables (%d describes)", 100*share, slow.describ.Load())
	}
}
