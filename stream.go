package litepull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Tuning of a change stream's writes.
const (
	// groupWait is how long the writer waits for the next source
	// transaction before it commits the ones it holds: source transactions
	// that arrive together share one replica transaction.
	groupWait = 2 * time.Millisecond
	// groupTime and groupRows bound one replica transaction of several
	// source transactions (one larger source transaction is never split).
	groupTime = 100 * time.Millisecond
	groupRows = 50_000
	// RetainedWarn is how much WAL a slot may hold back at the source
	// before the stream warns: a slot that falls behind fills the
	// source's disk (max_slot_wal_keep_size bounds it). It warns again
	// each time the amount doubles, or after retainedWarnAgain.
	RetainedWarn      = 1 << 30
	retainedWarnAgain = time.Hour
	// flushRows is how many rows of a source transaction are held in
	// memory before they are written into the open replica transaction;
	// flushBytes (a variable for tests), how many bytes of their values.
	flushRows = 5000
	// ackEvery is how often the source is told what the replica holds;
	// recordEvery, how often a position reached with nothing to apply
	// (keepalives: other tables' writes) is recorded so it can be acked.
	ackEvery    = time.Second
	recordEvery = 5 * time.Second
	// retryBase and retryCap bound the wait before a table that failed
	// mid-stream is copied again.
	retryBase = 30 * time.Second
	retryCap  = 30 * time.Minute
)

var flushBytes int64 = DefaultPageBytes

// Variables for tests.
var (
	// statusEvery is how often a stream reads its slot's status (lag,
	// retained WAL) for status and metrics, and describes its tables
	// afresh (checkShapes, checkDiscovered).
	statusEvery = 10 * time.Second
	// lagSampleEvery is how often a stream samples the source's position,
	// to date the positions it has not reached yet (its lag in seconds).
	lagSampleEvery = time.Second
)

// streamTable is one table of a change stream.
type streamTable struct {
	tc  TableConfig
	p   *plan
	st  State
	res *TableResult
	// copy: the table is copied from a snapshot before its changes apply
	// (first run, a shape change, a lost stream, -full).
	copy bool
	// stale: its shape changed mid-stream, or it failed: its changes are
	// ignored until it is copied again.
	stale bool
	// retryAt is when a table that failed is copied again (failures in a
	// row double the wait, up to retryCap); zero when it has not failed.
	retryAt  time.Time
	failures int
	// swap is the table's copy waiting to be swapped in (s.pending). A
	// live table's replica rows keep taking its changes until then; the
	// rows of another are left as they were.
	swap *pendingSwap
	// live: a run with Full copies the table, whose replica rows stand at
	// their stream position meanwhile (the stream carries them).
	live bool
	// reported is what of res the stream observer has seen.
	reported TableResult
	cols     []string // the stream's column names that idx maps
	idx      []int    // per target column, its index in the stream's rows
}

// position is how far the table's replica rows go in the stream.
func (t *streamTable) position() Position { return Position(t.st.CursorValue) }

// streamRun is one session of a source's change stream: it copies the
// tables that need it, then applies source transactions in commit order,
// each whole in one replica transaction with its position.
type streamRun struct {
	e      *Engine
	bs     BoundSource
	src    ChangeSource
	cs     ChangeStream
	copts  ChangeOptions
	log    *slog.Logger
	tables map[string]*streamTable
	order  []*streamTable
	// skipped are discovered tables that cannot be streamed.
	skipped  []TableResult
	progress func(Progress)
	unlock   func()

	pos     Position // applied through (committed or in the open replica transaction)
	durable Position // committed through
	// synced is what a durable commit (Batch.Sync) holds: only that is
	// acknowledged. last is the stream state committed last.
	synced   Position
	last     StreamState
	recorded time.Time
	acked    Position
	ackedAt  time.Time

	// The source transaction being read.
	inTx      bool
	begin     Position // its commit position
	batch     Batch    // its changes not yet written
	touched   map[*streamTable]int64
	pending   []*pendingSwap // copies waiting for the stream to cross their snapshot
	held      int            // rows in batch
	heldBytes int64          // bytes of their values (ValueBytes)
	recopy    []*streamTable

	tx        ReplicaTx // the open replica transaction, if any
	txStart   time.Time
	txRows    int
	txFirstTs time.Time // the source's commit time of its first transaction
	// The states of the tables the source transactions in tx touched, and
	// the position of the last: written once, just before tx commits
	// (each source transaction's would overwrite the one before).
	dirty  map[*streamTable]bool
	txLast *StreamState

	statusAt time.Time
	// checkedAt is when the tables were last described (at open, then by
	// checkShapes and checkDiscovered every statusEvery).
	checkedAt  time.Time
	reportedAt time.Time
	following  bool      // a Follow session: it reports as it goes
	commitTs   time.Time // the source's commit time of the last transaction applied
	beginTs    time.Time // the source's commit time of the transaction being read

	// Lag: through is where the stream stands with every transaction
	// before it committed in the replica (a commit's or keepalive's
	// position); lag dates positions from samples of the source's;
	// published is the date of the oldest change the replica lacks, as
	// last published.
	through   Position
	lag       lagClock
	sampledAt time.Time
	published time.Time
}

// StreamInfo is what the engine knows of a source's change stream, for
// status and metrics: the slot as the source last described it, and lag.
type StreamInfo struct {
	SourceID string       `json:"sourceId"`
	Status   StreamStatus `json:"slot"`
	Position Position     `json:"position"` // applied through
	// LagSeconds is the age of the oldest source change the replica's
	// readers do not see: the commit time of the first transaction not
	// committed in the replica, or else the time the source first stood
	// past where the stream stands (from samples of the source's position,
	// taken every second); 0 when the replica holds everything the source
	// had at the last sample.
	LagSeconds float64   `json:"lagSeconds"`
	Updated    time.Time `json:"updatedTs"`
	Error      string    `json:"error,omitempty"`
	// Waiting are the tables copied from a snapshot that wait for the
	// stream to reach the snapshot's position, to be swapped in together
	// with every source transaction before it.
	Waiting []string `json:"waitingTables,omitempty"`

	behind time.Time // the date LagSeconds counts from; zero when caught up
	// The retained-WAL warning: how much was retained when it was last
	// given (0: below RetainedWarn), and when.
	retainedWarned   int64
	retainedWarnedAt time.Time
}

// ObserveStreams has f see, every few seconds while a change stream
// runs and when its session ends, what it did since the last time: rows
// applied and copied per table, and tables that failed (the daemon's
// metrics). Set it before streams start.
func (e *Engine) ObserveStreams(f func(*Summary)) {
	e.mu.Lock()
	e.observe = f
	e.mu.Unlock()
}

// report hands the stream observer what each table did since the last
// report.
func (s *streamRun) report() {
	s.e.mu.Lock()
	f := s.e.observe
	s.e.mu.Unlock()
	if f == nil || !s.following {
		return // a run's results are its caller's to report
	}
	now := time.Now()
	sum := &Summary{Duration: now.Sub(s.reportedAt)}
	for _, t := range s.order {
		r := *t.res
		r.RowsPulled -= t.reported.RowsPulled
		r.Pages -= t.reported.Pages
		r.Duration = sum.Duration
		if r.Error == t.reported.Error {
			r.Error, r.Err = "", nil // counted when it happened
		}
		if r.RowsPulled != 0 || r.Pages != 0 || r.Error != "" {
			sum.Tables = append(sum.Tables, r)
		}
		t.reported = *t.res
	}
	s.reportedAt = now
	if len(sum.Tables) > 0 {
		f(sum)
	}
}

// StreamInfos lists the change streams this engine has run, by source.
func (e *Engine) StreamInfos() []StreamInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]StreamInfo, 0, len(e.streams))
	now := time.Now()
	for _, bs := range e.sources {
		if si, ok := e.streams[bs.Config.ID]; ok {
			if !si.behind.IsZero() {
				si.LagSeconds = max(now.Sub(si.behind).Seconds(), 0)
			}
			out = append(out, si)
		}
	}
	return out
}

// refreshStatus reads the slot's status every statusEvery, and warns when
// it holds back more WAL than RetainedWarn; between reads it samples the
// source's position for the lag. A stream whose tables changed at the
// source (ErrStreamChanged) ends the session.
func (s *streamRun) refreshStatus(ctx context.Context) error {
	if time.Since(s.statusAt) < statusEvery {
		s.sampleLag(ctx)
		return nil
	}
	s.statusAt = time.Now()
	s.report()
	st, err := s.cs.Status(ctx)
	if err == nil && st.Current != "" {
		s.lag.add(st.Current, s.statusAt)
		s.sampledAt = s.statusAt
	}
	s.published = s.behindSince()
	s.e.mu.Lock()
	si := s.e.streams[s.bs.Config.ID]
	si.Status, si.Position, si.Updated, si.Error, si.behind = st, s.durable, s.statusAt, "", s.published
	if err != nil {
		si.Error = err.Error()
	}
	s.warnRetained(&si)
	s.setStream(si)
	s.e.mu.Unlock()
	if errors.Is(err, ErrStreamChanged) {
		return fmt.Errorf("follow source %s: %w", s.bs.Config.ID, err)
	}
	if time.Since(s.checkedAt) < statusEvery {
		return nil // the session described its tables as it opened
	}
	s.checkedAt = time.Now()
	s.checkShapes(ctx)
	return s.checkDiscovered(ctx)
}

// checkDiscovered ends a following session of a source whose tables are
// discovered when discovery now finds a table the session does not
// stream, or a table's primary key changed: the next session discovers
// them afresh, publishes a new table and copies it, and rebuilds a table
// on its new key. Without it a table created while the daemon streamed
// was never replicated, and rows sharing the old key merged, until the
// daemon restarted.
func (s *streamRun) checkDiscovered(ctx context.Context) error {
	if len(s.bs.Config.Tables) > 0 || !s.following || s.inTx {
		return nil
	}
	tables, _, err := s.e.Tables(ctx, s.bs)
	if err != nil {
		return nil // the source's trouble shows in the stream itself
	}
	for _, tc := range tables {
		t := s.tables[tc.Table]
		switch {
		case t == nil:
			err = fmt.Errorf("table %s appeared at the source", tc.Table)
		case !slices.Equal(t.tc.PrimaryKey, tc.PrimaryKey):
			err = fmt.Errorf("the primary key of %s changed at the source (%v, was %v)", tc.Table, tc.PrimaryKey, t.tc.PrimaryKey)
		default:
			continue
		}
		return fmt.Errorf("follow source %s: %v: streaming it anew to discover its tables: %w", s.bs.Config.ID, err, ErrStreamChanged)
	}
	return nil
}

// checkShapes describes each streamed table afresh and makes the ones
// whose shape changed at the source stale, to be copied again (copyAgain).
// Postgres's stream announces a table's new shape only before its next
// row: without this, a column added (with its default), dropped or
// retyped on a table nobody writes would stay out of the replica, which
// would say ok, until the table's next write. A table that cannot be
// described (dropped, or the source is down) is left to the stream's own
// checks.
func (s *streamRun) checkShapes(ctx context.Context) {
	if s.inTx {
		return
	}
	for _, t := range s.order {
		if t.stale || t.copy || t.p == nil || t.swap != nil || slices.Contains(s.recopy, t) {
			continue // a table whose copy waits is described once it is in
		}
		b, err := s.bs.Source.Describe(ctx, t.tc.Table)
		if err != nil || t.sameShape(b) {
			continue
		}
		s.log.Warn("the source table's shape changed (seen in its catalog): copying it again", LogKeyTable, t.tc.Table)
		t.stale = true
		t.st.CursorValue = ""
		s.recopy = append(s.recopy, t)
	}
}

// warnRetained warns when the slot's retained WAL passes RetainedWarn,
// then again only each time it doubles, or every retainedWarnAgain while
// it stays above; and says so once it is back under.
func (s *streamRun) warnRetained(si *StreamInfo) {
	st := si.Status
	if st.Slot == "" {
		return // a binlog reader holds nothing back
	}
	switch {
	case st.RetainedBytes > RetainedWarn && (st.RetainedBytes >= 2*si.retainedWarned || time.Since(si.retainedWarnedAt) >= retainedWarnAgain):
		s.log.Warn("the slot holds back much WAL at the source; if the stream cannot keep up, set max_slot_wal_keep_size there (see the README)",
			"slot", st.Slot, "retainedBytes", st.RetainedBytes, "lagBytes", st.LagBytes)
		si.retainedWarned, si.retainedWarnedAt = st.RetainedBytes, time.Now()
	case st.RetainedBytes <= RetainedWarn && si.retainedWarned > 0:
		s.log.Info("the slot's retained WAL is back under the warning threshold", "slot", st.Slot, "retainedBytes", st.RetainedBytes)
		si.retainedWarned, si.retainedWarnedAt = 0, time.Time{}
	}
}

// runLogical brings a streamed source's tables up to the source's position
// when it starts (copying those that need it) and returns their results.
func (e *Engine) runLogical(ctx context.Context, bs BoundSource, opts RunOptions) []TableResult {
	s, err := e.openStream(ctx, bs, opts)
	if err != nil {
		return []TableResult{sourceError(bs, err)}
	}
	defer s.close()
	until, err := s.cs.Current(ctx)
	if err == nil {
		err = s.follow(ctx, until)
	}
	return s.results(err)
}

// Follow streams a source's changes into the replica until ctx ends or
// the stream fails. The daemon runs it for each source with changes:
// logical, again after a failure.
func (e *Engine) Follow(ctx context.Context, sourceID string) ([]TableResult, error) {
	var bs *BoundSource
	for i := range e.sources {
		if e.sources[i].Config.ID == sourceID && e.sources[i].Config.Streams() {
			bs = &e.sources[i]
		}
	}
	if bs == nil {
		return nil, fmt.Errorf("no source %q with changes: logical", sourceID)
	}
	s, err := e.openStream(ctx, *bs, RunOptions{})
	if err != nil {
		return []TableResult{sourceError(*bs, err)}, err
	}
	s.following = true
	defer s.close()
	err = s.follow(ctx, "")
	return s.results(err), err
}

// sourceError is the result of a source that failed as a whole.
func sourceError(bs BoundSource, err error) TableResult {
	return TableResult{SourceID: bs.Config.ID, Table: "*", NullCursorRows: -1, Error: err.Error(), Err: err}
}

// results are the tables' results; a stream error that ended the session
// is every table's that did not fail on its own, unless it is a Follow
// session's planned restart.
func (s *streamRun) results(err error) []TableResult {
	out := append(make([]TableResult, 0, len(s.order)+len(s.skipped)), s.skipped...)
	for _, t := range s.order {
		r := *t.res
		r.CursorValue = t.st.CursorValue
		if err != nil && r.Err == nil && !errors.Is(err, context.Canceled) && !s.planned(err) {
			r.Err, r.Error = err, err.Error()
		}
		out = append(out, r)
	}
	return out
}

// planned reports a Follow session that ends to start again, its tables
// having changed at the source: the next session mends that, and no table
// failed. A run's drain that ends so is cut short: its tables say why.
func (s *streamRun) planned(err error) bool {
	return s.following && errors.Is(err, ErrStreamChanged)
}

// follow copies what needs it, starts the stream at the recorded position
// and applies it: until ctx ends, or, with until set, until the replica
// holds every transaction committed before until.
//
// An error once ctx has ended is its cancellation: a call it interrupted
// (a SQLite write, say) did not fail.
func (s *streamRun) follow(ctx context.Context, until Position) error {
	err := s.copyTables(ctx, s.needCopy())
	if err == nil {
		err = s.cs.Start(ctx, s.pos)
		if err != nil {
			err = fmt.Errorf("start the change stream of source %s: %w", s.bs.Config.ID, err)
		} else {
			s.lag.includes, s.through = s.cs.Includes, s.pos
			err = s.loop(ctx, until)
		}
	}
	if s.inTx || s.holding() {
		// The stream ended inside a source transaction whose first rows
		// may be in the open replica transaction, or before the swap the
		// open replica transaction waits for: none of it may show. The
		// next session streams again from the last commit.
		s.rollback()
	} else if cerr := s.commitTx(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if aerr := s.ack(context.WithoutCancel(ctx), true); err == nil {
		err = aerr
	}
	s.dropPending(ctx)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// loop reads events and applies them.
func (s *streamRun) loop(ctx context.Context, until Position) error {
	for {
		if until != "" && s.reached(until) {
			return nil
		}
		wait, cancel := ctx, context.CancelFunc(func() {})
		if s.tx != nil && !s.inTx && !s.holding() {
			wait, cancel = context.WithTimeout(ctx, groupWait)
		}
		ev, err := s.cs.Next(wait)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wait != ctx && errors.Is(err, context.DeadlineExceeded) {
				err = s.commitTx(ctx) // nothing more came: commit what is held
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := s.handle(ctx, ev, until); err != nil {
			return err
		}
	}
}

// reached reports whether the replica holds everything before until.
func (s *streamRun) reached(until Position) bool {
	return s.tx == nil && len(s.pending) == 0 && !s.cs.Includes(until, s.durable)
}

// handle applies one event.
func (s *streamRun) handle(ctx context.Context, ev ChangeEvent, until Position) error {
	switch ev.Kind {
	case ChangeBegin:
		s.inTx, s.begin, s.beginTs = true, ev.Position, ev.Time
		s.touched = map[*streamTable]int64{}
		s.publishLag()
		return s.swapIn(ctx, ev.Position) // copies its snapshot holds go in first
	case ChangeRelation:
		s.relation(ev)
	case ChangeInsert, ChangeUpdate, ChangeDelete:
		return s.change(ctx, ev)
	case ChangeTruncate:
		s.truncate(ev)
	case ChangeCommit:
		return s.commit(ctx, ev)
	case ChangeKeepalive:
		// A source that sends keepalives often (a binlog's, after every
		// transaction of other tables) must not hold the replica
		// transaction open for longer than a group.
		if s.tx != nil && time.Since(s.txStart) >= groupTime {
			if err := s.commitTx(ctx); err != nil {
				return err
			}
		}
		s.passed(ev.Position)
		if err := s.refreshStatus(ctx); err != nil {
			return err
		}
		if err := s.swapIn(ctx, ev.Position); err != nil {
			return err
		}
		if err := s.idle(ctx, ev.Position, until != "" && !s.cs.Includes(until, ev.Position)); err != nil {
			return err
		}
		return s.copyAgain(ctx) // a shape seen changed (in the catalog, or while copies waited), and the tables that failed
	}
	return nil
}
