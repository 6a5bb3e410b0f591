package litepull

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// openStream opens a source's change stream and readies its tables: plans,
// states, which need a copy, and where the stream resumes.
func (e *Engine) openStream(ctx context.Context, bs BoundSource, opts RunOptions) (*streamRun, error) {
	src, ok := bs.Source.(ChangeSource)
	if !ok {
		return nil, fmt.Errorf("%w: source %s (%s) cannot stream its changes; leave changes: out to poll it by cursor", ErrUnsupported, bs.Config.ID, bs.Config.Kind)
	}
	unlock, err := e.claimStream(bs.Config.ID)
	if err != nil {
		return nil, err
	}
	s := &streamRun{e: e, bs: bs, src: src, log: e.logger.With(LogKeySource, bs.Config.ID),
		tables: map[string]*streamTable{}, unlock: unlock, progress: opts.Progress, reportedAt: time.Now(), checkedAt: time.Now()}
	if err := s.open(ctx, opts); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// claimStream makes sure one stream per source runs in this process: a
// second (a run asked for while the daemon streams) is refused at once.
func (e *Engine) claimStream(sourceID string) (func(), error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.streaming == nil {
		e.streaming = map[string]bool{}
	}
	if e.streaming[sourceID] {
		return nil, fmt.Errorf("source %s is %w in this process: its tables follow the source continuously", sourceID, ErrStreaming)
	}
	e.streaming[sourceID] = true
	return func() {
		e.mu.Lock()
		delete(e.streaming, sourceID)
		e.mu.Unlock()
	}, nil
}

// open plans the tables, opens the stream and finds where it resumes.
func (s *streamRun) open(ctx context.Context, opts RunOptions) error {
	tables, skipped, err := s.e.Tables(ctx, s.bs)
	if err != nil {
		return err
	}
	s.skipped = skipped
	var names []string
	for _, tc := range tables {
		t, err := s.addTable(ctx, tc, opts)
		if err != nil {
			return err
		}
		if t.stale {
			t.retryAt = time.Time{} // not in the publication: only a new session can take it in
		} else {
			names = append(names, tc.Table)
		}
	}
	if len(names) == 0 && len(s.order) > 0 {
		return s.noTable()
	}
	s.copts = s.bs.Config.ChangeOptions(names)
	s.copts.Logger = s.log
	if err := s.forgetLeft(ctx, names); err != nil {
		return err
	}
	if err := s.openChanges(ctx); err != nil {
		return err
	}
	if err := s.rejoin(ctx); err != nil {
		return err
	}
	return s.resume(ctx)
}

// noTable is the error of a session none of whose tables can be
// streamed: each table's own error, rather than the source's complaint
// that a stream of no tables cannot open.
func (s *streamRun) noTable() error {
	var errs []error
	for _, t := range s.order {
		if t.res.Err != nil {
			errs = append(errs, t.res.Err)
		}
	}
	return fmt.Errorf("no table of source %s can be streamed: %w", s.bs.Config.ID, errors.Join(errs...))
}

// rejoin copies the tables the stream did not carry until now (one
// dropped and made again under its name is a new table to the stream),
// and forgets their positions first, so that they are copied even if
// this session ends before it copies them.
func (s *streamRun) rejoin(ctx context.Context) error {
	var b Batch
	for _, name := range s.cs.Joined() {
		t := s.tables[name]
		if t == nil || t.p == nil {
			continue
		}
		if !t.copy {
			s.log.Warn("the table was not in the publication, so the stream lacks its changes since it last was: copying it again", LogKeyTable, name)
		}
		t.copy = true
		if t.st.CursorValue != "" {
			t.st.CursorValue = ""
			b.States = append(b.States, t.st)
		}
	}
	if len(b.States) == 0 {
		return nil
	}
	if err := s.e.replica.Apply(ctx, b); err != nil {
		return fmt.Errorf("forget the stream positions of tables new to the stream of source %s: %w", s.bs.Config.ID, err)
	}
	return nil
}

// addTable plans one table and decides whether it needs a copy. A table
// that cannot be planned fails alone (it is not streamed); an error
// reading the replica fails the stream.
func (s *streamRun) addTable(ctx context.Context, tc TableConfig, opts RunOptions) (*streamTable, error) {
	id := s.bs.Config.ID
	t := &streamTable{tc: tc, res: &TableResult{SourceID: id, Table: tc.Table, Dest: tc.DestName(), NullCursorRows: -1}}
	s.tables[tc.Table] = t
	s.order = append(s.order, t)
	st, err := s.e.replica.State(ctx, id, tc.Table)
	if err != nil {
		return nil, fmt.Errorf("load state of %s: %w", tc.Table, err)
	}
	t.st = st
	if t.p, err = s.e.plan(ctx, s.bs, tc); err != nil {
		s.failNow(ctx, t, err)
		return t, nil
	}
	named := opts.Table == "" || opts.Table == tc.Table || opts.Table == tc.DestName()
	full := opts.Full && named
	t.copy = st.CursorValue == "" || st.CursorColumn != "" ||
		(st.Dest != "" && !strings.EqualFold(st.Dest, tc.DestName()))
	if full {
		// The stream carries the table's rows on until its copy is
		// swapped in, unless they need the copy anyway.
		defer func() { t.copy, t.live = true, !t.copy && !t.stale }()
	}
	if t.copy {
		// A dest another source table fills is refused before the copy.
		if err := s.e.replica.CheckTarget(ctx, t.p.target); err != nil {
			s.failNow(ctx, t, fmt.Errorf("prepare replica table %s: %w", tc.DestName(), err))
		}
		return t, nil
	}
	change, err := s.e.replica.SchemaChange(ctx, t.p.target)
	if err == nil && change.IsZero() {
		err = s.e.replica.EnsureTable(ctx, t.p.target)
	}
	if err != nil {
		s.failNow(ctx, t, fmt.Errorf("prepare replica table %s: %w", tc.DestName(), err))
	} else if !change.IsZero() {
		t.res.SchemaChange, t.copy = &change, true
	}
	return t, nil
}

// forgetLeft forgets the stream position of each of the source's tables
// that this session does not stream (out of the config, skipped by
// discovery): the publication no longer holds it, so it misses every
// change from now on, and must be copied if it comes back.
func (s *streamRun) forgetLeft(ctx context.Context, streamed []string) error {
	all, err := s.e.replica.States(ctx)
	if err != nil {
		return fmt.Errorf("load states of source %s: %w", s.bs.Config.ID, err)
	}
	var b Batch
	for _, st := range all {
		if st.SourceID == s.bs.Config.ID && st.CursorColumn == "" && st.CursorValue != "" && !slices.Contains(streamed, st.Table) {
			st.CursorValue = ""
			b.States = append(b.States, st)
		}
	}
	if len(b.States) == 0 {
		return nil
	}
	if err := s.e.replica.Apply(ctx, b); err != nil {
		return fmt.Errorf("forget the stream positions of tables source %s no longer streams: %w", s.bs.Config.ID, err)
	}
	return nil
}

// openChanges opens the stream; a stream the source lost (its slot can
// no longer stream) is made again, and every table copied, if lost
// allows. A table the source cannot stream (a *TableError: no replica
// identity, say) fails alone, and the stream opens without it.
func (s *streamRun) openChanges(ctx context.Context) error {
	cs, err := s.src.OpenChanges(ctx, s.copts)
	for te := (*TableError)(nil); errors.As(err, &te) && len(s.copts.Tables) > 1; {
		t := s.tables[te.Table]
		if t == nil || !slices.Contains(s.copts.Tables, te.Table) {
			break
		}
		s.failNow(ctx, t, te.Err)
		t.retryAt = time.Time{} // not in the publication: only a new session can take it in
		s.copts.Tables = slices.DeleteFunc(slices.Clone(s.copts.Tables), func(n string) bool { return n == te.Table })
		cs, err = s.src.OpenChanges(ctx, s.copts)
	}
	if errors.Is(err, ErrStreamLost) {
		if lerr := s.lost(err.Error()); lerr != nil {
			return lerr
		}
		if derr := s.src.DropChanges(ctx, s.copts); derr != nil {
			return fmt.Errorf("drop the lost change stream of source %s: %w", s.bs.Config.ID, derr)
		}
		cs, err = s.src.OpenChanges(ctx, s.copts)
	}
	if err != nil {
		return fmt.Errorf("open the change stream of source %s: %w", s.bs.Config.ID, err)
	}
	s.cs = cs
	return nil
}

// resume finds where the stream resumes: the position the replica
// recorded, unless the slot moved past it (another consumer, or a slot
// made again), or the replica has none; then, if lost allows, every
// table is copied and the stream starts where the slot is.
func (s *streamRun) resume(ctx context.Context) error {
	confirmed, err := s.cs.Confirmed(ctx)
	if err != nil {
		return fmt.Errorf("read the slot of source %s: %w", s.bs.Config.ID, err)
	}
	rec, ok, err := s.recordedStream(ctx)
	if err != nil {
		return err
	}
	gap := ""
	switch {
	case ok && s.copiesAll():
		// Every table is copied from a new snapshot: the old record is of
		// no use, and a position the source can no longer serve (a
		// diverged server, a reset binlog) must not stop the copy that
		// replaces it. The stream starts where the source is.
		s.log.Info("every table is copied again: the stream starts where the source is, not at the replica's record",
			"record", rec.Position, "position", confirmed)
		return s.restart(ctx, confirmed, rec.Commit)
	case !ok && s.anyStreamed():
		gap = "the replica holds streamed tables but no record of the stream"
	case ok && rec.Slot != s.copts.Slot:
		gap = fmt.Sprintf("the replica followed slot %s, the config names %s (slot %s, if it still exists, keeps WAL at the source "+
			"until it is dropped: litepull slot drop -source %s -slot %s, or SELECT pg_drop_replication_slot('%s'))",
			rec.Slot, s.copts.Slot, rec.Slot, s.bs.Config.ID, rec.Slot, rec.Slot)
	case ok:
		// A verdict (ErrStreamLost) is a gap; a failure to check (the
		// slot unreadable for now) fails this session alone: it is no
		// reason for a new snapshot.
		if err := s.cs.Resumable(ctx, rec.Position); errors.Is(err, ErrStreamLost) {
			gap = err.Error()
		} else if err != nil {
			return fmt.Errorf("check that the change stream of source %s can resume at %s: %w", s.bs.Config.ID, rec.Position, err)
		}
	}
	if ok && gap == "" {
		s.pos, s.durable, s.acked, s.commitTs, s.last = rec.Position, rec.Position, confirmed, rec.Commit, rec
		return nil
	}
	if gap != "" {
		if err := s.lost(gap); err != nil {
			return err
		}
	}
	return s.restart(ctx, confirmed, rec.Commit)
}

// restart records that the stream starts at pos, where the source is,
// and, in the same replica transaction, that every table to copy has no
// position: a session killed before it copied them all leaves the rest
// to be copied by the next, instead of streaming them on from pos and
// missing their changes since their own positions.
func (s *streamRun) restart(ctx context.Context, pos Position, commit time.Time) error {
	b := Batch{Stream: s.streamState(pos, commit), Sync: true}
	for _, t := range s.order {
		if t.copy && t.p != nil && t.st.CursorValue != "" {
			t.st.CursorValue = ""
			b.States = append(b.States, t.st)
		}
	}
	if err := s.e.replica.Apply(ctx, b); err != nil {
		return fmt.Errorf("record the stream position of source %s: %w", s.bs.Config.ID, err)
	}
	s.pos, s.durable, s.synced, s.last, s.recorded = pos, pos, pos, *b.Stream, time.Now()
	return nil
}

// recordedStream is the replica's record of this source's stream.
func (s *streamRun) recordedStream(ctx context.Context) (StreamState, bool, error) {
	all, err := s.e.replica.StreamStates(ctx)
	if err != nil {
		return StreamState{}, false, fmt.Errorf("read stream states: %w", err)
	}
	for _, st := range all {
		if st.SourceID == s.bs.Config.ID {
			return st, true, nil
		}
	}
	return StreamState{}, false, nil
}

// anyStreamed reports whether a table holds rows of an earlier stream.
func (s *streamRun) anyStreamed() bool {
	for _, t := range s.order {
		if t.st.CursorValue != "" && t.st.CursorColumn == "" {
			return true
		}
	}
	return false
}

// lost decides what a stream that cannot resume where the replica stands
// does (why says why): every table is copied again when this session
// copies them all anyway (a run with Full, a publication made anew) or the
// source has resnapshot: auto; otherwise the source fails with
// ErrSnapshotNeeded, saying how to take the new snapshot, and nothing in
// the replica changes.
func (s *streamRun) lost(why string) error {
	id := s.bs.Config.ID
	if !s.copiesAll() && s.bs.Config.Resnapshot != ResnapshotAuto {
		return fmt.Errorf("source %s cannot resume its change stream where the replica stands: %s: %w: "+
			"copy every table again with litepull run -full -source %s (or POST /replicate/run?source=%s&full=1), "+
			"or set resnapshot: auto on the source to have that done on its own", id, why, ErrSnapshotNeeded, id, id)
	}
	s.log.Warn("the stream cannot resume where the replica stands: copying every table", "why", why)
	s.copyAll()
	return nil
}

// copiesAll reports whether every table that can be copied will be.
func (s *streamRun) copiesAll() bool {
	for _, t := range s.order {
		if t.p != nil && !t.copy {
			return false
		}
	}
	return true
}

func (s *streamRun) copyAll() {
	for _, t := range s.order {
		t.copy = t.p != nil
	}
}

// needCopy lists the tables to copy before streaming.
func (s *streamRun) needCopy() []*streamTable {
	var out []*streamTable
	for _, t := range s.order {
		if t.copy && !t.stale {
			out = append(out, t)
		}
	}
	return out
}

// copyTables copies tables from one snapshot of the source, each into a
// shadow, swapped in with the snapshot's position (all together, where
// the stream crosses it: stream_swap.go): the stream then skips, for
// each, the transactions its copy holds.
func (s *streamRun) copyTables(ctx context.Context, tables []*streamTable) error {
	if len(tables) == 0 {
		return nil
	}
	if err := s.commitTx(ctx); err != nil {
		return err
	}
	if err := s.forgetPositions(ctx, tables); err != nil {
		return err
	}
	snap, err := s.cs.Snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("take a snapshot of source %s: %w", s.bs.Config.ID, err)
		}
		// No snapshot now (a long transaction at the source holds it up,
		// say): the tables to copy fail, to be copied after a wait; the
		// others stream on meanwhile.
		for _, t := range tables {
			s.failNow(ctx, t, fmt.Errorf("take a snapshot of source %s to copy the table: %w", s.bs.Config.ID, err))
		}
		return nil
	}
	defer func() {
		if cerr := snap.Close(); cerr != nil {
			s.log.Warn("close snapshot", LogKeyError, cerr)
		}
	}()
	for _, t := range tables {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.copyTable(ctx, snap, t)
	}
	if !s.batchSwaps() {
		return nil
	}
	return s.swapCopied(ctx, snap.Position)
}

// copyTable copies one table as of snap; a failure is the table's alone.
func (s *streamRun) copyTable(ctx context.Context, snap *Snapshot, t *streamTable) {
	bs := s.bs
	bs.Source = snap.Reader
	p, err := s.e.plan(ctx, bs, t.tc) // described as of the snapshot
	if err != nil {
		s.failNow(ctx, t, err)
		return
	}
	p.position = snap.Position
	st := t.st
	st.SourceID, st.Table, st.Dest, st.CursorColumn = s.bs.Config.ID, t.tc.Table, p.target.Dest, ""
	var res TableResult
	sw, err := s.e.copyFull(ctx, bs, p, st, &res, RunOptions{Progress: s.progress})
	batch := s.batchSwaps()
	if err == nil && !batch {
		err = s.e.replica.SwapFull(ctx, sw.Target, sw.Shadow, sw.State)
		if err != nil {
			s.e.dropShadow(ctx, sw.Shadow)
			err = fmt.Errorf("swap in the full copy of %s: %w", p.target.Dest, err)
		}
	}
	if err != nil {
		if ctx.Err() == nil { // a copy cut short by shutdown has not failed
			s.failNow(ctx, t, err)
		}
		return
	}
	s.log.Info("copied table from a snapshot", LogKeyTable, t.tc.Table, LogKeyRows, res.RowsPulled, "position", snap.Position, "waitsForSwap", batch)
	t.copy, t.retryAt = false, time.Time{}
	if batch {
		t.swap = &pendingSwap{t: t, sw: sw, p: p, at: snap.Position}
		s.pending = append(s.pending, t.swap)
	} else {
		t.p, t.st, t.stale, t.cols = p, sw.State, false, nil
	}
	t.res.Err, t.res.Error = nil, ""
	t.res.FullRefresh = true
	t.res.RowsPulled += res.RowsPulled
	t.res.Pages += res.Pages
}
