package remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// Apply writes a batch in one request (see the package comment).
func (r *Replica) Apply(ctx context.Context, b litepull.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, b)
}

func (r *Replica) apply(ctx context.Context, b litepull.Batch) error {
	bt, err := r.batch(b)
	if err != nil {
		return err
	}
	return r.send(ctx, *bt, true)
}

// missing names the table and row of a failed keep guard, read after the
// request: the engine copies that table again.
func (r *Replica) missing(ctx context.Context, keeps []keepCheck, err error) error {
	for _, k := range keeps {
		a := r.args()
		where := r.keyMatch(a, k.t, k.from)
		rows, qerr := r.query(ctx, "SELECT 1 AS c0 FROM "+replica.Quote(k.t.Dest)+" WHERE "+where, a.vals)
		if qerr != nil {
			return errors.Join(err, qerr)
		}
		if len(rows) == 0 {
			err := fmt.Errorf("%w: keep values of %s: the replica has no row with key (%s) = (%s) to keep them from, "+
				"so it is missing a row the source has; the table is copied again",
				litepull.ErrMissingRow, k.t.Dest, fmt.Sprint(k.t.PrimaryKey), replica.FormatKey(k.from))
			return &litepull.TableError{SourceID: k.t.SourceID, Table: k.t.SourceTable, Err: err}
		}
	}
	return err
}

// BatchLimits is the largest page of t that fits one request: as many
// rows as the service's statements per request allow, and bytes well
// within its request size (values grow in JSON: BLOBs double as hex).
func (r *Replica) BatchLimits(t *litepull.Target) (int, int64) {
	rows := 0
	if n := r.lim.Statements; n > 0 {
		rows = max((n-8)*r.rowsPerStatement(len(t.Columns)), 1)
	}
	return rows, int64(r.lim.MaxRequestBytes() / 4)
}

// tx is a change stream's source transaction: its batches are rendered
// as they come and sent as one request at Commit, since a remote service
// holds no transaction open between requests. A transaction that grows
// past one request fails at that Apply (ErrBatchTooLarge), holding no
// more, and nothing of it is written.
type tx struct {
	r      *Replica
	built  built
	size   int
	failed error
	ended  bool
}

var errTxEnded = errors.New("replica transaction has ended (committed or rolled back); begin another")

// Begin opens a transaction held in memory until Commit.
func (r *Replica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	return &tx{r: r}, nil
}

func (t *tx) Apply(ctx context.Context, b litepull.Batch) error {
	switch {
	case t.ended:
		return errTxEnded
	case t.failed != nil:
		return t.failed
	}
	bt, err := t.r.batch(b)
	if err == nil {
		t.built.stmts = append(t.built.stmts, bt.stmts...)
		t.built.keeps = append(t.built.keeps, bt.keeps...)
		t.size += requestSize(bt.stmts)
		err = t.r.limits(len(t.built.stmts)+2, t.size)
	}
	if err != nil {
		t.failed = err
		t.built = built{}
	}
	return err
}

func (t *tx) Commit() error {
	switch {
	case t.ended:
		return errTxEnded
	case t.failed != nil:
		t.ended = true
		return fmt.Errorf("commit replica transaction: %w", t.failed)
	}
	t.ended = true
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if err := t.r.send(context.Background(), t.built, true); err != nil {
		return fmt.Errorf("commit replica transaction: %w", err)
	}
	return nil
}

func (t *tx) Rollback() error {
	t.ended = true
	t.built = built{}
	return nil
}
