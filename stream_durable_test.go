package litepull_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// syncingReplica notes the last stream position a durable (Sync) commit
// recorded.
type syncingReplica struct {
	*replica.Replica
	mu     sync.Mutex
	synced int64
	syncs  int
}

func (r *syncingReplica) Apply(ctx context.Context, b litepull.Batch) error {
	if err := r.Replica.Apply(ctx, b); err != nil {
		return err
	}
	r.note(b)
	return nil
}

func (r *syncingReplica) note(b litepull.Batch) {
	if b.Sync && b.Stream != nil {
		r.mu.Lock()
		r.synced, r.syncs = max(r.synced, num(b.Stream.Position)), r.syncs+1
		r.mu.Unlock()
	}
}

func (r *syncingReplica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	tx, err := r.Replica.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &syncingTx{ReplicaTx: tx, r: r}, nil
}

type syncingTx struct {
	litepull.ReplicaTx
	r     *syncingReplica
	batch litepull.Batch // the last with Sync
}

func (t *syncingTx) Apply(ctx context.Context, b litepull.Batch) error {
	if b.Sync {
		t.batch = b
	}
	return t.ReplicaTx.Apply(ctx, b)
}

func (t *syncingTx) Commit() error {
	if err := t.ReplicaTx.Commit(); err != nil {
		return err
	}
	t.r.note(t.batch)
	return nil
}

// TestStreamAcksOnlyDurablePositions: the source is told a position only
// once a commit that survives a power cut (SQLite's synchronous=FULL)
// holds it: the replica's ordinary commits (synchronous=NORMAL) may be
// forgotten by one, and a position the source was told is one it
// recycles.
func TestStreamAcksOnlyDurablePositions(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	f.commit(ins("b", int64(1), int64(1)))
	_, r, _ := streamEngine(t, f)
	sr := &syncingReplica{Replica: r}
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}
	e := litepull.NewEngine(sr, []litepull.BoundSource{{Config: cfg, Source: f}}, nil)
	var mu sync.Mutex
	acks := 0
	f.onAck = func(p litepull.Position) {
		sr.mu.Lock()
		defer sr.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		acks++
		if num(p) > sr.synced {
			t.Errorf("acknowledged %s, but durable commits hold only %d", p, sr.synced)
		}
	}
	run(t, e)
	stop := following(t, e)
	deadline := time.Now().Add(2500 * time.Millisecond) // more than one ack interval
	for i := int64(2); time.Now().Before(deadline); i++ {
		f.commit(ins("b", i, i))
		time.Sleep(5 * time.Millisecond) // a source's pace: commits spread over the ack interval
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if acks < 3 || sr.syncs > acks+1 {
		t.Errorf("%d acks, %d durable commits: want several acks, each after at most one durable commit", acks, sr.syncs)
	}
}
