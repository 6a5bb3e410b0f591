package litepull

import (
	"context"
	"fmt"
	"slices"
)

// A change stream copies tables from one snapshot of the source, at a
// position S, while the tables it streams stand where the stream is, at
// P before S. Swapped in one by one as they are copied, a copied table
// would show the source at S and the others at P: half of a source
// transaction that wrote both. So the copies wait, filled shadow tables,
// and are swapped in together, in the replica transaction where the
// stream crosses S: that of the first source transaction S does not hold,
// or of a keepalive at or past S, or at once when no streamed table
// stands before S (the first copy of every table). Until then the stream
// carries on the replica rows of a table that a run with Full copies
// (live), and commits as usual. The rows of another table to copy (new,
// back in the stream, failed, of another shape) do not take the stream's
// changes: the stream then holds every source transaction it applies
// before S in one replica transaction, which the swaps end (holding),
// so that readers see none of them before the copies. The replica is
// thus at all times the state of the source at one commit, tables that
// failed (stale) aside. A replica that cannot swap inside a batch (not a
// BatchSwapper: a remote one) gets each copy swapped in as it is made,
// without that guarantee during copies.

// pendingSwap is a table copied from the snapshot at at, waiting for the
// stream to cross at.
type pendingSwap struct {
	t  *streamTable
	sw Swap
	p  *plan // the table's plan as of the snapshot
	at Position
}

// holding reports whether the open replica transaction waits for the
// swaps: a copy waits whose table's rows the stream does not carry.
// Nothing commits meanwhile (it would show the other tables ahead of
// it), nor is a table copied.
func (s *streamRun) holding() bool {
	return slices.ContainsFunc(s.pending, func(ps *pendingSwap) bool { return !ps.t.live })
}

// batchSwaps reports whether the replica swaps copies in inside batches.
func (s *streamRun) batchSwaps() bool {
	_, ok := s.e.replica.(BatchSwapper)
	return ok
}

// forgetPositions records, in one replica transaction, that each table
// about to be copied, but a live one, has no stream position: if the
// session ends before its copy is swapped in, the next session copies it
// again, instead of streaming it on from a stream record that moved past
// the changes the stream skipped for it.
func (s *streamRun) forgetPositions(ctx context.Context, tables []*streamTable) error {
	var b Batch
	for _, t := range tables {
		t.live = t.live && !t.stale && t.st.CursorValue != "" && t.st.CursorColumn == ""
		if !t.live && t.p != nil && t.st.CursorValue != "" && t.st.CursorColumn == "" {
			t.st.CursorValue = ""
			b.States = append(b.States, t.st)
		}
	}
	if len(b.States) == 0 {
		return nil
	}
	if err := s.e.replica.Apply(ctx, b); err != nil {
		return fmt.Errorf("forget the stream positions of the tables of source %s to copy: %w", s.bs.Config.ID, err)
	}
	return nil
}

// crossed reports whether p, a position of the stream, is at or past at:
// a transaction committing at p is not in a snapshot at at, a keepalive
// at p follows every transaction that is.
func (s *streamRun) crossed(at, p Position) bool {
	return p != "" && !s.cs.Includes(at, p)
}

// behind reports whether a table the stream carries (a live one waiting
// for its swap too) stands before at.
func (s *streamRun) behind(at Position) bool {
	for _, ps := range s.pending {
		if ps.at != at {
			return true // an earlier copy waits: this one goes in after it
		}
	}
	if s.crossed(at, s.pos) {
		return false
	}
	for _, t := range s.order {
		if t.p != nil && !t.stale && !t.copy && (t.swap == nil || t.live) {
			return true
		}
	}
	return false
}

// swapCopied swaps in at once the copies made from the snapshot at at,
// if no streamed table stands before it; otherwise they wait for the
// stream to cross at.
func (s *streamRun) swapCopied(ctx context.Context, at Position) error {
	s.publishWaiting()
	if s.behind(at) {
		return nil
	}
	if err := s.swapIn(ctx, at); err != nil {
		return err
	}
	return s.commitTx(ctx)
}

// swapIn writes the swaps of the copies whose snapshot p crosses into the
// open replica transaction (opening one): first in it, before the
// changes of the source transaction at p, if any.
func (s *streamRun) swapIn(ctx context.Context, p Position) error {
	var b Batch
	var done []*pendingSwap
	kept := s.pending[:0]
	for _, ps := range s.pending {
		if !s.crossed(ps.at, p) {
			kept = append(kept, ps)
			continue
		}
		b.Swaps = append(b.Swaps, ps.sw)
		done = append(done, ps)
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	if len(b.Swaps) == 0 {
		return nil
	}
	if err := s.openTx(ctx); err != nil {
		return err
	}
	if err := s.tx.Apply(ctx, b); err != nil {
		s.rollback()
		return fmt.Errorf("swap in the tables of source %s copied from a snapshot: %w", s.bs.Config.ID, err)
	}
	for _, ps := range done {
		// The table's state from now on is its copy's (a commit of this
		// replica transaction that touched a live table writes it).
		t := ps.t
		t.p, t.st, t.stale, t.cols, t.swap, t.live = ps.p, ps.sw.State, false, nil, nil, false
	}
	s.log.Info("swapped in the tables copied from a snapshot", "tables", len(done), "position", p)
	s.publishWaiting()
	return nil
}

// dropPending drops the shadows of copies never swapped in (the session
// ends): a live table is at its stream position; another has none, so
// the next session copies it again.
func (s *streamRun) dropPending(ctx context.Context) {
	for _, ps := range s.pending {
		s.e.dropShadow(ctx, ps.sw.Shadow)
		ps.t.swap = nil
	}
	s.pending = nil
	s.publishWaiting()
}

// dropSwap forgets t's waiting copy: t failed, or its shape changed, so
// it is copied again. Its shadow is left (a replica transaction may be
// open) to the next copy, which makes it anew.
func (s *streamRun) dropSwap(t *streamTable) {
	if t.swap == nil {
		return
	}
	s.pending = slices.DeleteFunc(s.pending, func(ps *pendingSwap) bool { return ps == t.swap })
	t.swap, t.live = nil, false
	s.publishWaiting()
}

// publishWaiting tells status which tables wait for their swap.
func (s *streamRun) publishWaiting() {
	var names []string
	for _, ps := range s.pending {
		names = append(names, ps.t.tc.Table)
	}
	s.e.mu.Lock()
	si := s.e.streams[s.bs.Config.ID]
	si.Waiting = names
	s.setStream(si)
	s.e.mu.Unlock()
}
