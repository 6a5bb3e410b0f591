package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// txState is where a transaction Begin opened stands.
type txState int

const (
	txOpen   txState = iota
	txFailed         // an Apply failed: only Rollback is left
	txEnded          // committed or rolled back: r.mu is released
)

var (
	errTxEnded  = errors.New("replica transaction has ended (committed or rolled back); begin another")
	errTxFailed = errors.New("replica transaction cannot commit: an earlier Apply in it failed, and it was rolled back")
)

// tx is a replica transaction open across several Applies. It holds r.mu
// from Begin to Commit or Rollback.
type tx struct {
	r     *Replica
	state txState
	sync  bool // a batch asked for a durable commit (Batch.Sync)
	// swapped are the tables a batch's swaps replaced: their shape is
	// known once the transaction commits.
	swapped []*litepull.Target
}

var _ litepull.ReplicaTx = (*tx)(nil)

// Begin opens one immediate transaction that several Applies write into;
// Commit makes all of them visible at once, Rollback none. Until it ends,
// every other call on the replica waits (the goroutine holding it must use
// only its methods, and must end it: an abandoned transaction blocks the
// replica). ctx bounds the wait for another process's write lock.
func (r *Replica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	t, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (r *Replica) begin(ctx context.Context) (*tx, error) {
	r.mu.Lock()
	if r.conn == nil {
		r.mu.Unlock()
		return nil, errClosed
	}
	err := r.run(ctx, func(c *sqlite3.Conn) error { return c.Exec("BEGIN IMMEDIATE") })
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("begin replica transaction: %w", err)
	}
	return &tx{r: r}, nil
}

// Apply writes b into the transaction, interruptible by ctx. After a
// failure (a panic of the driver included) the transaction is good only
// for Rollback.
func (t *tx) Apply(ctx context.Context, b litepull.Batch) error {
	switch t.state {
	case txEnded:
		return errTxEnded
	case txFailed:
		return errTxFailed
	}
	err := t.r.run(ctx, func(c *sqlite3.Conn) error { return t.r.apply(c, b) })
	if err != nil {
		t.state = txFailed
	}
	for _, sw := range b.Swaps {
		t.swapped = append(t.swapped, sw.Target)
	}
	t.sync = t.sync || b.Sync
	return err
}

// Commit makes every Apply visible. It ends the transaction even when it
// fails: a transaction that cannot commit is rolled back.
func (t *tx) Commit() error {
	switch t.state {
	case txEnded:
		return errTxEnded
	case txFailed:
		return errors.Join(errTxFailed, t.end())
	}
	err := t.r.run(context.Background(), func(c *sqlite3.Conn) error { return c.Exec("COMMIT") })
	if err != nil {
		return errors.Join(fmt.Errorf("commit replica transaction: %w", err), t.end())
	}
	for _, st := range t.swapped {
		t.r.ensured[st.Dest] = signature(st) // r.mu is held until end
	}
	if t.sync {
		err = t.r.syncWAL()
	}
	return errors.Join(err, t.end())
}

// Rollback discards every Apply. After Commit or Rollback it does nothing.
func (t *tx) Rollback() error {
	if t.state == txEnded {
		return nil
	}
	return t.end()
}

// end rolls back what is still open (nothing after a COMMIT, or after a
// failure SQLite rolled back itself) and releases the replica.
func (t *tx) end() error {
	defer t.r.mu.Unlock()
	t.state = txEnded
	return t.r.run(context.Background(), func(c *sqlite3.Conn) error {
		if c.GetAutocommit() {
			return nil
		}
		if err := c.Exec("ROLLBACK"); err != nil {
			return fmt.Errorf("roll back replica transaction: %w", err)
		}
		return nil
	})
}

// saveStream records where a change stream stands, inside the caller's
// transaction. A zero Applied time is now.
func (r *Replica) saveStream(c *sqlite3.Conn, st *litepull.StreamState) error {
	if st.SourceID == "" {
		return errors.New("save stream state: no source id")
	}
	s, err := r.prepared(c, "INSERT INTO "+StreamsTable+" (source_id, slot, position, commit_ts, applied_ts) VALUES (?, ?, ?, ?, ?)"+
		" ON CONFLICT (source_id) DO UPDATE SET slot = excluded.slot, position = excluded.position, commit_ts = excluded.commit_ts, applied_ts = excluded.applied_ts")
	if err != nil {
		return err
	}
	applied := st.Applied
	if applied.IsZero() {
		applied = time.Now()
	}
	if err := sqlitex.BindAll(s, st.SourceID, st.Slot, string(st.Position), timeText(st.Commit), timeText(applied)); err != nil {
		return err
	}
	if err := s.Exec(); err != nil {
		return fmt.Errorf("save stream state of %s: %w", st.SourceID, err)
	}
	return nil
}

// StreamStates lists where each source's change stream stands, by source.
func (r *Replica) StreamStates(ctx context.Context) ([]litepull.StreamState, error) {
	var out []litepull.StreamState
	err := r.locked(ctx, func(c *sqlite3.Conn) error {
		s, _, err := c.Prepare("SELECT source_id, slot, position, commit_ts, applied_ts FROM " + StreamsTable + " ORDER BY source_id")
		if err != nil {
			return err
		}
		defer s.Close()
		for s.Step() {
			out = append(out, litepull.StreamState{SourceID: s.ColumnText(0), Slot: s.ColumnText(1),
				Position: litepull.Position(s.ColumnText(2)), Commit: parseTime(s.ColumnText(3)), Applied: parseTime(s.ColumnText(4))})
		}
		return s.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read stream states: %w", err)
	}
	return out, nil
}
