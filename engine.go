package litepull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Log keys used by the engine.
const (
	LogKeySource = "source"
	LogKeyTable  = "table"
	LogKeyRows   = "rows"
	LogKeyError  = "error"
)

// BoundSource is a configured source with its open connection.
type BoundSource struct {
	Config SourceConfig
	Source Source
}

// Engine moves pages from sources into the replica.
type Engine struct {
	replica Replica
	sources []BoundSource
	logger  *slog.Logger
	now     func() time.Time

	mu        sync.Mutex
	running   map[string]chan struct{} // per source/table lock: never two runs (or a run and a reset) at once
	caughtUp  map[string]bool          // per source/table: last run ended with no more pages
	warned    map[string]bool          // per source/table: config warnings logged once
	streaming map[string]bool          // per source: a change stream is open
	observe   func(*Summary)           // sees what streams did (ObserveStreams)
	streams   map[string]StreamInfo    // per source: its stream's last status
}

// NewEngine returns an engine over an open replica and open sources.
func NewEngine(r Replica, sources []BoundSource, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		replica:  r,
		sources:  sources,
		logger:   logger,
		now:      func() time.Time { return time.Now().UTC() },
		running:  map[string]chan struct{}{},
		caughtUp: map[string]bool{},
		warned:   map[string]bool{},
	}
}

// Sources returns the engine's sources.
func (e *Engine) Sources() []BoundSource { return e.sources }

// Run runs one tick (one page per table) or, with Drain, reads until every
// table is caught up. Table errors are recorded in the state table and in the
// summary; Run itself fails only when the context ends or nothing matched.
func (e *Engine) Run(ctx context.Context, opts RunOptions) (*Summary, error) {
	start := time.Now()
	sum := &Summary{}
	matched := false
	dests := destClaims{}
	for _, bs := range e.sources {
		if opts.SourceID != "" && bs.Config.ID != opts.SourceID {
			continue
		}
		if bs.Config.Streams() {
			if opts.Table != "" && !e.streamsTable(ctx, bs, opts.Table) {
				continue // as for a polled source: -full -table T of no T copies nothing, and must say so
			}
			matched = true
			sum.Tables = append(sum.Tables, e.runLogical(ctx, bs, opts)...)
			continue
		}
		tables, skipped, err := e.Tables(ctx, bs)
		if err != nil {
			matched = true
			sum.Tables = append(sum.Tables, TableResult{SourceID: bs.Config.ID, Table: "*", Error: err.Error(), Err: err})
			e.logger.Error("discover tables", LogKeySource, bs.Config.ID, LogKeyError, err)
			continue
		}
		for _, s := range skipped {
			if opts.Table == "" || opts.Table == s.Table {
				sum.Tables = append(sum.Tables, s)
			}
		}
		for _, tc := range tables {
			clash := dests.claim(bs.Config.ID, tc)
			if opts.Table != "" && tc.Table != opts.Table && tc.DestName() != opts.Table {
				continue
			}
			matched = true
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			if clash != nil {
				sum.Tables = append(sum.Tables, TableResult{SourceID: bs.Config.ID, Table: tc.Table, Dest: tc.DestName(),
					NullCursorRows: -1, Error: clash.Error(), Err: clash})
				continue
			}
			sum.Tables = append(sum.Tables, e.runTable(ctx, bs, tc, opts))
		}
	}
	sum.Duration = time.Since(start)
	if !matched && (opts.SourceID != "" || opts.Table != "") {
		return sum, fmt.Errorf("no table matches source %q table %q", opts.SourceID, opts.Table)
	}
	return sum, ctx.Err()
}

// streamsTable reports whether a streamed source's tables include name
// (a source table or its dest); a discovery that fails leaves that to
// the stream to report.
func (e *Engine) streamsTable(ctx context.Context, bs BoundSource, name string) bool {
	tables, _, err := e.Tables(ctx, bs)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(tables, func(tc TableConfig) bool { return tc.Table == name || tc.DestName() == name })
}

// Tables returns the tables a source replicates: the configured ones, or
// those discovery finds. Discovered tables without a primary key or a usable
// cursor come back as skipped results with the reason.
func (e *Engine) Tables(ctx context.Context, bs BoundSource) ([]TableConfig, []TableResult, error) {
	if len(bs.Config.Tables) > 0 {
		return bs.Config.Tables, nil, nil
	}
	infos, err := bs.Source.Tables(ctx)
	if err != nil {
		var te *TimeoutError
		if errors.As(err, &te) {
			return nil, nil, fmt.Errorf("discover tables of source %s: %w", bs.Config.ID, te)
		}
		return nil, nil, fmt.Errorf("discover tables of source %s: %w", bs.Config.ID, err)
	}
	var tables []TableConfig
	var skipped []TableResult
	skip := func(name, why string) {
		skipped = append(skipped, TableResult{SourceID: bs.Config.ID, Table: name, Skipped: why})
	}
	for _, ti := range infos {
		if _, err := SplitQualified(ti.Name); err != nil {
			skip(ti.Name, "name is not a plain identifier")
			continue
		}
		if len(ti.PrimaryKey) == 0 {
			skip(ti.Name, "no primary key; list it under tables: with primaryKey to replicate it")
			continue
		}
		tables = append(tables, TableConfig{Table: ti.Name, PrimaryKey: ti.PrimaryKey, discovered: true})
	}
	return tables, skipped, nil
}

// destClaims maps a replica table name, folded to lower case as SQLite
// compares names, to the source table that fills it in this run.
type destClaims map[string]string

// claim records that tc fills its dest, or returns why it cannot: another
// table of this run fills a replica table of the same name. SQLite table
// names ignore case, so "Users" and "users" are one table.
func (d destClaims) claim(sourceID string, tc TableConfig) error {
	key := strings.ToLower(tc.DestName())
	who := sourceID + "/" + tc.Table
	if prev, ok := d[key]; ok && prev != who {
		return fmt.Errorf("%w: replica table %q is also the destination of %s (SQLite table names ignore case); list %s under tables: with a dest of its own",
			ErrSchemaConflict, tc.DestName(), prev, tc.Table)
	}
	d[key] = who
	return nil
}

// tableKey names a source table for the engine's per-table lock and caches.
func tableKey(sourceID, table string) string { return sourceID + "\x00" + table }

// lock takes a table's lock: whoever holds it (a run, a reset) is the only
// one writing that table's rows and state. It waits as long as ctx allows.
func (e *Engine) lock(ctx context.Context, key string) (func(), error) {
	e.mu.Lock()
	m := e.running[key]
	if m == nil {
		m = make(chan struct{}, 1)
		e.running[key] = m
	}
	e.mu.Unlock()
	select {
	case m <- struct{}{}:
		return func() { <-m }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Engine) runTable(ctx context.Context, bs BoundSource, tc TableConfig, opts RunOptions) (res TableResult) {
	res = TableResult{SourceID: bs.Config.ID, Table: tc.Table, Dest: tc.DestName(), NullCursorRows: -1}
	unlock, err := e.lock(ctx, tableKey(bs.Config.ID, tc.Table))
	if err != nil {
		res.Err = err
		res.Error = err.Error()
		return res
	}
	defer unlock()
	start := time.Now()
	log := e.logger.With(LogKeySource, bs.Config.ID, LogKeyTable, tc.Table)

	st, err := e.replica.State(ctx, bs.Config.ID, tc.Table)
	if err != nil {
		res.Err = fmt.Errorf("load state: %w", err)
		res.Error = res.Err.Error()
		return res
	}
	if st.Dest != "" && !strings.EqualFold(st.Dest, tc.DestName()) {
		// The state was kept for another replica table (dest was renamed):
		// it says nothing about the new one, which gets a full copy (a
		// table of that name left from an earlier config is replaced, not
		// upserted into).
		log.Info("dest changed: filling the new replica table from a full copy", "from", st.Dest, "to", tc.DestName())
		st = State{SourceID: bs.Config.ID, Table: tc.Table, NullCursorRows: -1}
		opts.Full = true
	}
	res.CursorValue = st.CursorValue
	res.NullCursorRows = st.NullCursorRows
	err = e.pull(ctx, bs, tc, &st, &res, opts)
	res.Duration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled: not the table's fault, so its state is left alone
			// (whatever failed, it failed because the run was stopped).
			res.Err = ctx.Err()
			res.Error = res.Err.Error()
			return res
		}
		err = WithTable(err, tc.Table)
		res.Err = &TableError{SourceID: bs.Config.ID, Table: tc.Table, Err: err}
		res.Error = err.Error()
		st.SourceID, st.Table, st.Dest = bs.Config.ID, tc.Table, tc.DestName()
		st.LastError = err.Error()
		st.LastRun = e.now()
		st.LastRowsPulled = res.RowsPulled
		st.ErrorCount++
		if serr := e.replica.Apply(context.WithoutCancel(ctx), stateBatch(st)); serr != nil {
			log.Error("record table error", LogKeyError, serr)
		}
		log.Error("replicate table", LogKeyError, err)
		return res
	}
	log.Debug("replicated table", LogKeyRows, res.RowsPulled, "more", res.MorePagesAvailable)
	return res
}

// pull does the work of one table for one run; st is the state loaded before.
func (e *Engine) pull(ctx context.Context, bs BoundSource, tc TableConfig, st *State, res *TableResult, opts RunOptions) error {
	p, err := e.plan(ctx, bs, tc)
	if err != nil {
		return err
	}
	p.pageBytes = opts.PageBytes
	e.fitPages(p)
	res.Note = p.note
	e.warnConfig(bs, tc, p, res)
	full, err := e.prepare(ctx, p, st, res, opts)
	if err != nil {
		return err
	}
	st.SourceID, st.Table, st.Dest, st.CursorColumn = bs.Config.ID, tc.Table, p.target.Dest, p.cursor
	st.LastRowsPulled = 0
	if full {
		err = e.fullRefresh(ctx, bs, p, st, res, opts)
	} else {
		err = e.incremental(ctx, bs, p, st, res, opts)
	}
	if err != nil {
		return err
	}
	return e.checkAhead(ctx, p, st, res)
}

// prepare readies the replica table for p and says whether this run copies
// the table whole: mode full, asked for, or a shape change at the source
// (a rebuild).
func (e *Engine) prepare(ctx context.Context, p *plan, st *State, res *TableResult, opts RunOptions) (full bool, err error) {
	change, err := e.replica.SchemaChange(ctx, p.target)
	if err != nil {
		return false, fmt.Errorf("prepare replica table %s: %w", p.target.Dest, err)
	}
	if !change.IsZero() {
		res.SchemaChange = &change
		e.logger.Warn("the source table's shape changed: rebuilding the replica table from a full copy",
			LogKeySource, p.target.SourceID, LogKeyTable, p.target.SourceTable, "change", change.String())
		return true, nil
	}
	full = p.full || opts.Full
	if !full && st.CursorColumn == "" && st.CursorValue != "" && p.cursor != "" {
		// The table was streamed (changes: logical): its position is one
		// of the stream's, which no cursor can carry on from.
		e.logger.Warn("the table was streamed before: copying it whole to poll it by cursor from now on",
			LogKeySource, p.target.SourceID, LogKeyTable, p.target.SourceTable)
		return true, nil
	}
	if !full && st.Watermark != nil && st.CursorColumn != "" && st.CursorColumn != p.cursor {
		return false, fmt.Errorf("%w: the watermark was taken on %q, the config now says %q; reset the table (litepull reset) to re-read it on the new cursor",
			ErrCursorChanged, st.CursorColumn, p.cursor)
	}
	if err := e.replica.EnsureTable(ctx, p.target); err != nil {
		return false, fmt.Errorf("prepare replica table %s: %w", p.target.Dest, err)
	}
	return full, nil
}

// incremental reads pages from the watermark on (after re-reading the
// lookback window), commits each with its new watermark, and once caught
// up counts NULL cursors and reconciles deletes when due.
func (e *Engine) incremental(ctx context.Context, bs BoundSource, p *plan, st *State, res *TableResult, opts RunOptions) error {
	key := tableKey(bs.Config.ID, p.target.SourceTable)
	e.mu.Lock()
	caughtUp, seen := e.caughtUp[key]
	e.mu.Unlock()
	if !p.lookback.IsZero() && st.Watermark != nil && (caughtUp || !seen) {
		n, err := e.reread(ctx, p, st)
		if err != nil {
			return fmt.Errorf("re-read lookback window: %w", err)
		}
		res.RowsReread = n
	}

	readCtx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the reader when the writer gives up early
	more := false
	for pr := range e.readPages(readCtx, p, st.Watermark, opts.Drain) {
		if pr.err != nil {
			return pr.err // sources say "read page of <table>" themselves
		}
		more = p.more(pr.page)
		if err := e.commitPage(ctx, p, st, res, pr.page, opts); err != nil {
			return err
		}
		if more && ((opts.MaxPages > 0 && res.Pages >= opts.MaxPages) || (!opts.Deadline.IsZero() && !time.Now().Before(opts.Deadline))) {
			break // budget spent: yield, the next run carries on from the watermark
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res.MorePagesAvailable = more
	e.mu.Lock()
	e.caughtUp[key] = !more
	e.mu.Unlock()
	if more {
		return nil
	}
	return e.whenCaughtUp(ctx, bs, p, st, res, opts)
}

// commitPage writes one page and the watermark of its last row in one
// replica transaction. The next state is built aside and adopted only once
// committed, so a failed commit never leaves a watermark ahead of its rows.
func (e *Engine) commitPage(ctx context.Context, p *plan, st *State, res *TableResult, page *Page, opts RunOptions) error {
	n := int64(len(page.Rows))
	next := *st
	now := e.now()
	next.LastRun, next.LastSuccess, next.LastError, next.ErrorCount = now, now, "", 0
	if n > 0 {
		next.Watermark = p.watermarkOf(page.Rows[n-1])
		next.CursorValue = FormatValue(next.Watermark.Cursor)
	}
	next.LastRowsPulled += n
	next.RowsTotal += n
	deleted := p.softDeleted(page.Rows)
	next.RowsDeleted += deleted
	if err := e.replica.Apply(ctx, pageBatch(p.target, page.Rows, next)); err != nil {
		return fmt.Errorf("write page into %s: %w", p.target.Dest, err)
	}
	*st = next
	res.Pages++
	res.RowsPulled += n
	res.RowsDeleted += deleted
	res.CursorValue = st.CursorValue
	if opts.Progress != nil && n > 0 {
		opts.Progress(Progress{SourceID: p.target.SourceID, Table: p.target.SourceTable, Rows: res.RowsPulled})
	}
	return nil
}

// whenCaughtUp counts the rows a cursor cannot reach (NULL cursors), and
// reconciles deletes when asked or due.
func (e *Engine) whenCaughtUp(ctx context.Context, bs BoundSource, p *plan, st *State, res *TableResult, opts RunOptions) error {
	nulls, err := bs.Source.CountNullCursor(ctx, p.target.SourceTable, p.cursor)
	if err != nil {
		return fmt.Errorf("count NULL cursors: %w", err)
	}
	if nulls > 0 && nulls != st.NullCursorRows {
		e.logger.Warn("rows with a NULL cursor are not replicated incrementally",
			LogKeySource, bs.Config.ID, LogKeyTable, p.target.SourceTable, "cursor", p.cursor, LogKeyRows, nulls)
	}
	st.NullCursorRows = nulls
	res.NullCursorRows = nulls
	if err := e.replica.Apply(ctx, stateBatch(*st)); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if opts.Reconcile || (p.reconcile && (st.LastReconcile.IsZero() || e.now().Sub(st.LastReconcile) >= p.reconcileEvery)) {
		n, err := e.reconcile(ctx, p, st)
		if err != nil {
			return fmt.Errorf("reconcile deletes: %w", err)
		}
		res.RowsDeleted += n
		res.Reconciled = true
	}
	return nil
}

// warnConfig puts the plan's config warnings in the table's result, and
// logs them on the table's first run.
func (e *Engine) warnConfig(bs BoundSource, tc TableConfig, p *plan, res *TableResult) {
	if len(p.warnings) == 0 {
		return
	}
	res.Warnings = append(res.Warnings, p.warnings...)
	key := bs.Config.ID + "\x00" + tc.Table
	e.mu.Lock()
	logged := e.warned[key]
	e.warned[key] = true
	e.mu.Unlock()
	if !logged {
		for _, w := range p.warnings {
			e.logger.Warn(w, LogKeySource, bs.Config.ID, LogKeyTable, tc.Table)
		}
	}
}

// reread upserts the rows in the lookback window behind the watermark,
// without moving the watermark. Upserts make it idempotent.
func (e *Engine) reread(ctx context.Context, p *plan, st *State) (int64, error) {
	from, err := subtractLookback(st.Watermark.Cursor, p.lookback)
	if err != nil {
		return 0, err
	}
	req := p.request(&Watermark{Cursor: from})
	req.Through = st.Watermark
	var n int64
	for {
		page, err := p.readOne(ctx, req)
		if err != nil {
			return n, err
		}
		if len(page.Rows) > 0 {
			if err := e.replica.Apply(ctx, pageBatch(p.target, page.Rows, *st)); err != nil {
				return n, err
			}
		}
		n += int64(len(page.Rows))
		if !p.more(page) {
			return n, nil
		}
		req.After = p.watermarkOf(page.Rows[len(page.Rows)-1])
	}
}

// Reset forgets a table's watermark and counters, so that its next run
// reads it from the start; replicated rows stay. table is the source table
// or its replica (dest) name. It returns the source table name reset.
//
// A run of the table in progress is waited for, as long as ctx allows: the
// run would otherwise commit its next page, and with it its old watermark,
// over the reset. Out of time, nothing is reset and the error says why.
func (e *Engine) Reset(ctx context.Context, sourceID, table string) (string, error) {
	name, err := e.resetName(ctx, sourceID, table)
	if err != nil {
		return "", err
	}
	key := tableKey(sourceID, name)
	unlock, err := e.lock(ctx, key)
	if err != nil {
		return "", fmt.Errorf("reset %s/%s: not done, a run of the table is still going on: %w", sourceID, name, err)
	}
	defer unlock()
	if err := e.replica.ResetState(ctx, sourceID, name); err != nil {
		return "", fmt.Errorf("reset %s/%s: %w", sourceID, name, err)
	}
	e.mu.Lock()
	delete(e.caughtUp, key)
	e.mu.Unlock()
	return name, nil
}

// resetName resolves a table given by source or replica name: from the
// config, else from the state table (discovered tables, tables no longer
// configured). A source name is preferred to a replica name.
func (e *Engine) resetName(ctx context.Context, sourceID, table string) (string, error) {
	var bs *BoundSource
	for i := range e.sources {
		if e.sources[i].Config.ID == sourceID {
			bs = &e.sources[i]
		}
	}
	if bs == nil {
		return "", fmt.Errorf("%w: no source %q in the config", ErrNoTable, sourceID)
	}
	states, err := e.replica.States(ctx)
	if err != nil {
		return "", fmt.Errorf("read state table: %w", err)
	}
	for _, byDest := range []bool{false, true} {
		for _, tc := range bs.Config.Tables {
			if tc.Table == table || (byDest && tc.DestName() == table) {
				return tc.Table, nil
			}
		}
		for _, st := range states {
			if st.SourceID == sourceID && (st.Table == table || (byDest && st.Dest == table)) {
				return st.Table, nil
			}
		}
	}
	return "", fmt.Errorf("%w: source %q has no table %q (by source or replica name) and no state for it", ErrNoTable, sourceID, table)
}
