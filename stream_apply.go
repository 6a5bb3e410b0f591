package litepull

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// skips reports whether the open source transaction's changes to t are
// already in the replica (t's copy or the stream holds it), or t is not
// streamed now.
func (s *streamRun) skips(t *streamTable) bool {
	return t == nil || t.stale || t.p == nil || (t.swap != nil && !t.live) ||
		s.cs.Includes(t.position(), s.begin) || s.cs.Includes(s.pos, s.begin)
}

// relation notes a table's shape as the stream now sends it. A shape
// other than the one the replica table was made for (a column added,
// dropped or retyped at the source; DDL is not in the stream) makes the
// table stale: it is copied again after this transaction, so existing
// rows get the new column's real values.
//
// A relation in a transaction the table's copy already holds describes
// an older shape than the copy's, and changes nothing.
func (s *streamRun) relation(ev ChangeEvent) {
	t := s.tables[ev.Table]
	if t != nil {
		t.cols = nil
	}
	if s.skips(t) || ev.Schema == nil || t.sameShape(ev.Schema) {
		return
	}
	s.log.Warn("the source table's shape changed: copying it again", LogKeyTable, t.tc.Table)
	s.unhold(t)
	s.dropSwap(t)
	t.stale = true
	// Recorded with this transaction: the table misses the rest of it, and
	// must be copied even if the session ends before the copy.
	t.st.CursorValue = ""
	if s.touched != nil {
		s.touched[t] += 0
	}
	s.recopy = append(s.recopy, t)
}

// unhold drops t's changes held for the open source transaction: a table
// that goes stale in it keeps its replica rows as they were before it
// (changes already written into the replica transaction, in a source
// transaction larger than flushRows, stay until its copy replaces them).
func (s *streamRun) unhold(t *streamTable) {
	if t.p == nil {
		return
	}
	kept := s.batch.Changes[:0]
	for _, ch := range s.batch.Changes {
		if ch.Target == t.p.target {
			s.held -= len(ch.Upserts) + len(ch.Deletes)
			continue
		}
		kept = append(kept, ch)
	}
	clear(s.batch.Changes[len(kept):])
	s.batch.Changes = kept
}

// sameShape reports whether the stream's description of the table, b,
// is the one the replica table was made for: the same key (when the
// source's key is the replica's: not configured, or discovered) and columns, by name and type. With a
// projection (columns:), only the projected columns count: a column the
// replica does not hold (one added at the source, or a generated column,
// which Postgres before 18 does not stream) needs no copy.
func (t *streamTable) sameShape(b *TableSchema) bool {
	a := t.p.schema
	if (len(t.tc.PrimaryKey) == 0 || t.tc.discovered) && !slices.Equal(a.PrimaryKey, b.PrimaryKey) {
		return false
	}
	if len(t.tc.Columns) > 0 {
		for _, c := range t.p.target.Columns {
			was, ok1 := a.Column(c.Name)
			now, ok2 := b.Column(c.Name)
			if !ok1 || !ok2 || was.SourceType != now.SourceType {
				return false
			}
		}
		return true
	}
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i, c := range a.Columns {
		if c.Name != b.Columns[i].Name || c.SourceType != b.Columns[i].SourceType {
			return false
		}
	}
	return true
}

// mapColumns finds each target column among the stream's columns.
func (t *streamTable) mapColumns(cols []string) error {
	idx := make([]int, len(t.p.target.Columns))
	for i, c := range t.p.target.Columns {
		idx[i] = slices.Index(cols, c.Name)
		if idx[i] < 0 {
			return fmt.Errorf("the change stream sends no column %s (it sends %v): a generated column, which Postgres before 18 "+
				"does not stream? List the table's other columns with columns: to leave it out", c.Name, cols)
		}
	}
	t.cols, t.idx = cols, idx
	return nil
}

// row picks the target's columns from a stream row.
func (t *streamTable) row(values []Value) []Value {
	row := make([]Value, len(t.idx))
	for i, j := range t.idx {
		row[i] = values[j]
	}
	return row
}

// key is row's primary key; every value must be there and not NULL.
func (t *streamTable) key(row []Value) ([]Value, error) {
	key := make([]Value, len(t.p.pkIdx))
	for i, j := range t.p.pkIdx {
		switch row[j].(type) {
		case nil:
			return nil, fmt.Errorf("%w: the change stream sent no value for key column %s: the key must be NOT NULL, and the source's replica identity must hold it (its primary key, or REPLICA IDENTITY FULL)",
				ErrNoPrimaryKey, t.p.pk[i])
		case Keep:
			return nil, fmt.Errorf("the change stream left out key column %s (an unchanged TOAST value): copy the table again (litepull run -full -table %s)", t.p.pk[i], t.tc.Table)
		}
		key[i] = row[j]
	}
	return key, nil
}

// change adds one row change of the open source transaction.
func (s *streamRun) change(ctx context.Context, ev ChangeEvent) error {
	t := s.tables[ev.Table]
	if s.skips(t) {
		return nil
	}
	if ev.Err != nil {
		s.fail(t, ev.Err)
		return nil
	}
	if !slices.Equal(t.cols, ev.Columns) {
		if err := t.mapColumns(ev.Columns); err != nil {
			s.fail(t, err)
			return nil
		}
	}
	if err := s.add(t, ev); err != nil {
		s.fail(t, err)
		return nil
	}
	s.touched[t]++
	for _, v := range ev.Row {
		s.heldBytes += ValueBytes(v)
	}
	if s.held >= flushRows || s.heldBytes >= flushBytes {
		return s.write(ctx)
	}
	return nil
}

// add puts an insert, update or delete into the batch. An update that
// moves a row to a new key is an upsert of the new key, its unchanged
// values kept from the old, and a delete of the old key.
func (s *streamRun) add(t *streamTable, ev ChangeEvent) error {
	if err := t.namesRow(ev); err != nil {
		return err
	}
	var old []Value
	if ev.Old != nil {
		k, err := t.key(t.row(ev.Old))
		if err != nil {
			return err
		}
		old = k
	}
	if ev.Kind == ChangeDelete {
		if old == nil {
			return fmt.Errorf("%w: the change stream sent a delete without its key: set the source table's REPLICA IDENTITY to its primary key (DEFAULT) or FULL", ErrNoPrimaryKey)
		}
		e := s.entry(t, false)
		e.Deletes = append(e.Deletes, old)
		s.held++
		return nil
	}
	row := t.row(ev.Row)
	t.keepKey(row, old)
	key, err := t.key(row)
	if err != nil {
		return err
	}
	moved := old != nil && !sameKey(old, key)
	keep := false
	for i, v := range row {
		if _, ok := v.(Keep); ok {
			// Kept from the replica's row at the old key, in the
			// target's key (the source's may be another).
			keep, row[i] = true, Keep{}
			if moved {
				row[i] = Keep{From: old}
			}
		}
	}
	e := s.entry(t, true)
	if keep && len(e.Upserts)+len(e.Deletes) > 0 {
		e = s.newEntry(t) // a row that reads the replica goes first in its entry
	}
	e.Upserts = append(e.Upserts, row)
	if moved {
		e.Deletes = append(e.Deletes, old)
	}
	s.held++
	return nil
}

// keepKey fills in, from the old row's key, the key columns a new row
// left out: a MySQL session with binlog_row_image MINIMAL or NOBLOB logs
// an update's new row without its unchanged columns, and a key that
// changed is always logged.
func (t *streamTable) keepKey(row, old []Value) {
	if old == nil {
		return
	}
	for i, j := range t.p.pkIdx {
		if _, ok := row[j].(Keep); ok {
			row[j] = old[i]
		}
	}
}

// namesRow says why an update cannot name the replica row it changes, if
// it cannot: the source sends an updated row's old key only when its own
// key changes, so an update that moved the row to another configured key
// would leave the old replica row in place.
func (t *streamTable) namesRow(ev ChangeEvent) error {
	if ev.Kind != ChangeUpdate || ev.Old != nil || sameSet(t.p.pk, t.p.schema.PrimaryKey) {
		return nil
	}
	return fmt.Errorf("primaryKey (%s) is not the source's primary key (%s), and the change stream names an updated row only by the latter: "+
		"ALTER TABLE %s REPLICA IDENTITY FULL at the source (updates then carry the whole old row), or leave primaryKey out",
		strings.Join(t.p.pk, ", "), strings.Join(t.p.schema.PrimaryKey, ", "), t.tc.Table)
}

// sameSet reports whether a and b hold the same names.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

// sameKey compares two keys value by value, []byte by content.
func sameKey(a, b []Value) bool {
	return slices.EqualFunc(a, b, func(x, y Value) bool {
		xb, xok := x.([]byte)
		yb, yok := y.([]byte)
		if xok || yok {
			return xok && yok && bytes.Equal(xb, yb)
		}
		return x == y
	})
}

// entry is the batch entry t's next change goes into: the last one, if
// it is t's and keeps the order (an upsert after a delete starts a new
// entry, since an entry's deletes come after its upserts).
func (s *streamRun) entry(t *streamTable, upsert bool) *TableChanges {
	if n := len(s.batch.Changes); n > 0 {
		last := &s.batch.Changes[n-1]
		if last.Target == t.p.target && !(upsert && len(last.Deletes) > 0) {
			return last
		}
	}
	return s.newEntry(t)
}

func (s *streamRun) newEntry(t *streamTable) *TableChanges {
	s.batch.Changes = append(s.batch.Changes, TableChanges{Target: t.p.target})
	return &s.batch.Changes[len(s.batch.Changes)-1]
}

// truncate empties the tables a TRUNCATE names, in order with the rest.
func (s *streamRun) truncate(ev ChangeEvent) {
	for _, name := range ev.Tables {
		t := s.tables[name]
		if s.skips(t) {
			continue
		}
		s.newEntry(t).Truncate = true
		s.touched[t] += 0
	}
}

// fail makes a table stale for the rest of the session and records why
// with its next state: it is copied again when the stream next opens.
func (s *streamRun) fail(t *streamTable, err error) {
	err = WithTable(err, t.tc.Table)
	s.unhold(t)
	s.dropSwap(t)
	t.stale = true
	t.res.Err = &TableError{SourceID: s.bs.Config.ID, Table: t.tc.Table, Err: err}
	t.res.Error = err.Error()
	t.st.SourceID, t.st.Table, t.st.Dest = s.bs.Config.ID, t.tc.Table, t.tc.DestName()
	t.st.LastError, t.st.LastRun, t.st.CursorValue = err.Error(), s.e.now(), ""
	t.st.ErrorCount++
	t.failures++
	t.retryAt = time.Now().Add(min(retryBase<<min(t.failures-1, 10), retryCap))
	if s.touched != nil {
		s.touched[t] += 0
	}
	s.log.Error("replicate table", LogKeyTable, t.tc.Table, LogKeyError, err)
}

// retryFailed copies again, between source transactions, the tables
// whose wait after a failure is over: a copy is what mends a table that
// missed changes.
func (s *streamRun) retryFailed(ctx context.Context) error {
	if s.inTx || s.holding() {
		return nil
	}
	var due []*streamTable
	for _, t := range s.order {
		if t.stale && !t.retryAt.IsZero() && !time.Now().Before(t.retryAt) {
			due = append(due, t)
		}
	}
	return s.copyTables(ctx, due)
}

// failNow fails a table and records its state at once (no replica
// transaction is open).
func (s *streamRun) failNow(ctx context.Context, t *streamTable, err error) {
	s.fail(t, err)
	if aerr := s.e.replica.Apply(context.WithoutCancel(ctx), stateBatch(t.st)); aerr != nil {
		s.log.Error("record table error", LogKeyTable, t.tc.Table, LogKeyError, aerr)
	}
}

// commit ends a source transaction: its rows, the states of the tables
// it touched and its position go into the replica transaction, which is
// committed unless more source transactions may share it.
func (s *streamRun) commit(ctx context.Context, ev ChangeEvent) error {
	s.inTx = false
	if s.cs.Includes(s.pos, s.begin) || len(s.touched) == 0 {
		s.batch, s.held, s.heldBytes = Batch{}, 0, 0
		s.passed(ev.Position)
		if err := s.idle(ctx, ev.Position, false); err != nil {
			return err
		}
		return s.copyAgain(ctx) // a shape change alone (DDL) touches no rows
	}
	now := s.e.now()
	for t, n := range s.touched {
		if !t.stale {
			t.st.SourceID, t.st.Table, t.st.Dest, t.st.CursorColumn = s.bs.Config.ID, t.tc.Table, t.p.target.Dest, ""
			t.st.CursorValue, t.st.LastRun, t.st.LastSuccess = string(ev.Position), now, now
			t.st.LastError, t.st.ErrorCount, t.st.LastRowsPulled = "", 0, n
			t.st.RowsTotal += n
			t.res.RowsPulled += n
		}
		if s.dirty == nil {
			s.dirty = map[*streamTable]bool{}
		}
		s.dirty[t] = true
	}
	s.txLast = s.streamState(ev.Position, ev.Time)
	s.pos, s.commitTs = ev.Position, ev.Time
	if err := s.write(ctx); err != nil {
		return err
	}
	if time.Since(s.txStart) >= groupTime || s.txRows >= groupRows || len(s.recopy) > 0 {
		if err := s.commitTx(ctx); err != nil {
			return err
		}
	}
	if err := s.refreshStatus(ctx); err != nil {
		return err
	}
	return s.copyAgain(ctx)
}

// copyAgain copies the tables whose shape changed in the stream, after
// the transaction that announced it.
func (s *streamRun) copyAgain(ctx context.Context) error {
	if s.holding() {
		return nil // once the copies waiting are swapped in
	}
	list := s.recopy
	s.recopy = nil
	if err := s.copyTables(ctx, list); err != nil {
		return err
	}
	return s.retryFailed(ctx) // not only at keepalives, which a busy source seldom sends
}

func (s *streamRun) streamState(pos Position, commit time.Time) *StreamState {
	return &StreamState{SourceID: s.bs.Config.ID, Slot: s.copts.Slot, Position: pos, Commit: commit, Applied: s.e.now()}
}

// write puts the batch held in memory into the open replica transaction,
// opening one if needed (a source transaction that changed no row still
// records its position and states in one). A failure rolls it back and
// ends the session: the next one resumes from the last committed position.
func (s *streamRun) write(ctx context.Context) error {
	if len(s.batch.Changes) == 0 && (s.tx != nil || s.txLast == nil) {
		return nil
	}
	if err := s.openTx(ctx); err != nil {
		return err
	}
	err := s.tx.Apply(ctx, s.batch)
	s.txRows += s.held
	s.batch, s.held, s.heldBytes = Batch{}, 0, 0
	if err != nil {
		s.rollback()
		if ctx.Err() == nil { // not an interrupted write
			s.failMissing(ctx, err)
		}
		return fmt.Errorf("apply the source transaction that commits at %s: %w", s.begin, err)
	}
	return nil
}

// openTx opens a replica transaction, if none is open.
func (s *streamRun) openTx(ctx context.Context) error {
	if s.tx != nil {
		return nil
	}
	tx, err := s.e.replica.Begin(ctx)
	if err != nil {
		return err // the replica says "begin replica transaction"
	}
	s.tx, s.txStart, s.txRows, s.txFirstTs = tx, time.Now(), 0, s.beginTs
	return nil
}

// failMissing fails, durably, the table of an ErrMissingRow: the replica
// lacks a row whose unchanged values the stream keeps, which only a copy
// mends. The session ends (its replica transaction is gone); the next one
// copies the table, instead of failing on the same source transaction
// again and again.
func (s *streamRun) failMissing(ctx context.Context, err error) {
	var te *TableError
	if !errors.Is(err, ErrMissingRow) || !errors.As(err, &te) || te.SourceID != s.bs.Config.ID {
		return
	}
	if t := s.tables[te.Table]; t != nil {
		s.failNow(ctx, t, te.Err)
	}
}

func (s *streamRun) rollback() {
	s.dirty, s.txLast = nil, nil
	if s.tx == nil {
		return
	}
	if err := s.tx.Rollback(); err != nil {
		s.log.Error("roll back replica transaction", LogKeyError, err)
	}
	s.tx, s.pos = nil, s.durable
}

// commitTx commits the open replica transaction, unless it is holding
// for swaps, then tells the source (at most every ackEvery) that it may
// recycle what the replica now holds.
func (s *streamRun) commitTx(ctx context.Context) error {
	if s.tx == nil || s.holding() {
		return nil
	}
	// A commit whose position is to be acknowledged now is made durable
	// itself, sparing ack a commit of its own.
	b := Batch{Stream: s.txLast, Sync: s.txLast != nil && time.Since(s.ackedAt) >= ackEvery}
	for t := range s.dirty {
		b.States = append(b.States, t.st)
	}
	if err := s.tx.Apply(ctx, b); err != nil {
		s.rollback()
		return fmt.Errorf("record the stream's position in the replica transaction: %w", err)
	}
	err := s.tx.Commit()
	s.tx, s.dirty, s.txLast = nil, nil, nil
	if err != nil {
		s.pos = s.durable
		return fmt.Errorf("commit replica transaction: %w", err)
	}
	s.durable = s.pos
	if b.Stream != nil {
		s.last = *b.Stream
		if b.Sync {
			s.synced = s.durable
		}
	}
	s.passed(s.durable)
	return s.ack(ctx, false)
}

// ack tells the source what a durable commit holds (making the last
// commit durable first, if it is not): the replica writes its commits
// with synchronous=NORMAL, which a power cut may forget, and a position
// the source was told is one whose WAL it recycles.
func (s *streamRun) ack(ctx context.Context, now bool) error {
	if s.durable == s.acked || (!now && time.Since(s.ackedAt) < ackEvery) {
		return nil
	}
	if err := s.sync(ctx); err != nil {
		return err
	}
	if err := s.cs.Ack(ctx, s.synced); err != nil {
		return fmt.Errorf("acknowledge %s to source %s: %w", s.synced, s.bs.Config.ID, err)
	}
	s.acked, s.ackedAt = s.synced, time.Now()
	return nil
}

// sync makes every commit durable, if the last was not, by committing its
// stream state again with Batch.Sync.
func (s *streamRun) sync(ctx context.Context) error {
	if s.synced == s.durable || s.last.Position != s.durable {
		return nil
	}
	st := s.last
	if err := s.e.replica.Apply(ctx, Batch{Stream: &st, Sync: true}); err != nil {
		return fmt.Errorf("make the replica's commits through %s durable: %w", s.durable, err)
	}
	s.synced = s.durable
	return nil
}

// idle notes that the source stands at pos with nothing more for the
// replica (other tables' writes move it): recorded every recordEvery, or
// now, so that the slot is acknowledged and releases its WAL.
func (s *streamRun) idle(ctx context.Context, pos Position, now bool) error {
	if s.inTx || s.holding() || !s.cs.Includes(pos, s.pos) || (!now && time.Since(s.recorded) < recordEvery) {
		return nil
	}
	if err := s.commitTx(ctx); err != nil {
		return err
	}
	if err := s.record(ctx, pos, time.Time{}); err != nil {
		return err
	}
	return s.ack(ctx, true)
}

// record writes the stream's position alone, durably: it is acknowledged
// next.
func (s *streamRun) record(ctx context.Context, pos Position, commit time.Time) error {
	st := s.streamState(pos, commit)
	if err := s.e.replica.Apply(ctx, Batch{Stream: st, Sync: true}); err != nil {
		return fmt.Errorf("record the stream position of source %s: %w", s.bs.Config.ID, err)
	}
	s.pos, s.durable, s.synced, s.last, s.recorded = pos, pos, pos, *st, time.Now()
	return nil
}

// close ends the session: an open replica transaction is rolled back
// (whole source transactions only ever commit), the stream closed.
func (s *streamRun) close() {
	s.rollback()
	s.endLag()
	s.report()
	if s.cs != nil {
		if err := s.cs.Close(); err != nil {
			s.log.Warn("close change stream", LogKeyError, err)
		}
	}
	if s.unlock != nil {
		s.unlock()
	}
}
