package litepull

import (
	"context"
	"fmt"
	"log/slog"
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

	mu       sync.Mutex
	running  map[string]*sync.Mutex // per source/table: never two runs at once
	caughtUp map[string]bool        // per source/table: last run ended with no more pages
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
		running:  map[string]*sync.Mutex{},
		caughtUp: map[string]bool{},
	}
}

// Sources returns the engine's sources.
func (e *Engine) Sources() []BoundSource { return e.sources }

// RunOptions selects what a run does.
type RunOptions struct {
	// SourceID and Table, when set, limit the run to one source and/or table.
	SourceID string
	Table    string
	// Drain reads pages until no table has more, instead of one page per table.
	Drain bool
	// Full copies the selected tables whole into shadow tables and swaps
	// them in (as mode: full does on every run).
	Full bool
	// Reconcile looks for rows deleted at the source now, in every selected
	// table that is caught up (deletes: reconcile does it every
	// reconcileEvery).
	Reconcile bool
	// MaxPages and Deadline, when set, stop a drain of a table after that
	// many pages or at that time; the table reports morePagesAvailable.
	MaxPages int
	Deadline time.Time
	// Progress, if set, is called after every committed page.
	Progress func(Progress)
}

// Progress reports a committed page.
type Progress struct {
	SourceID string
	Table    string
	Rows     int64 // rows pulled for this table so far in this run
}

// TableResult is the outcome of one table in one run; its JSON field names
// follow the seed's summary.
type TableResult struct {
	SourceID           string        `json:"sourceId"`
	Table              string        `json:"table"`
	Dest               string        `json:"dest,omitempty"`
	RowsPulled         int64         `json:"rowsPulled"`
	RowsReread         int64         `json:"rowsReread,omitempty"`
	Pages              int           `json:"pages"`
	CursorValue        string        `json:"cursorValue"`
	MorePagesAvailable bool          `json:"morePagesAvailable"`
	NullCursorRows     int64         `json:"nullCursorRows"`
	RowsDeleted        int64         `json:"rowsDeleted,omitempty"`
	FullRefresh        bool          `json:"fullRefresh,omitempty"`
	Reconciled         bool          `json:"reconciled,omitempty"`
	Skipped            string        `json:"skipped,omitempty"`
	Error              string        `json:"error,omitempty"`
	Duration           time.Duration `json:"durationNs"`
	Err                error         `json:"-"`
}

// Summary is the outcome of a run.
type Summary struct {
	Tables   []TableResult `json:"tables"`
	Duration time.Duration `json:"durationNs"`
}

// Failed counts the tables that ended with an error.
func (s *Summary) Failed() int {
	n := 0
	for _, t := range s.Tables {
		if t.Error != "" {
			n++
		}
	}
	return n
}

// MorePagesAvailable reports whether any table has rows left to read.
func (s *Summary) MorePagesAvailable() bool {
	for _, t := range s.Tables {
		if t.MorePagesAvailable {
			return true
		}
	}
	return false
}

// RowsPulled adds up the rows pulled by every table.
func (s *Summary) RowsPulled() int64 {
	var n int64
	for _, t := range s.Tables {
		n += t.RowsPulled
	}
	return n
}

// Run runs one tick (one page per table) or, with Drain, reads until every
// table is caught up. Table errors are recorded in the state table and in the
// summary; Run itself fails only when the context ends or nothing matched.
func (e *Engine) Run(ctx context.Context, opts RunOptions) (*Summary, error) {
	start := time.Now()
	sum := &Summary{}
	matched := false
	for _, bs := range e.sources {
		if opts.SourceID != "" && bs.Config.ID != opts.SourceID {
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
			if opts.Table != "" && tc.Table != opts.Table && tc.DestName() != opts.Table {
				continue
			}
			matched = true
			if err := ctx.Err(); err != nil {
				return sum, err
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

// Tables returns the tables a source replicates: the configured ones, or
// those discovery finds. Discovered tables without a primary key or a usable
// cursor come back as skipped results with the reason.
func (e *Engine) Tables(ctx context.Context, bs BoundSource) ([]TableConfig, []TableResult, error) {
	if len(bs.Config.Tables) > 0 {
		return bs.Config.Tables, nil, nil
	}
	infos, err := bs.Source.Tables(ctx)
	if err != nil {
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
		tables = append(tables, TableConfig{Table: ti.Name, PrimaryKey: ti.PrimaryKey})
	}
	return tables, skipped, nil
}

// plan is a table's resolved replication: columns, keys, limits.
type plan struct {
	src       Source
	target    *Target
	schema    *TableSchema
	cursor    string
	cursorCol Column
	pk        []string
	columns   []string
	cursorIdx int
	pkIdx     []int
	pageSize  int
	settle    time.Duration
	lookback  Lookback

	full           bool // mode: full
	reconcile      bool // deletes: reconcile
	reconcileEvery time.Duration
}

func (e *Engine) plan(ctx context.Context, bs BoundSource, tc TableConfig) (*plan, error) {
	schema, err := bs.Source.Describe(ctx, tc.Table)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	available := func() string {
		names := make([]string, len(schema.Columns))
		for i, c := range schema.Columns {
			names[i] = c.Name
		}
		return strings.Join(names, ", ")
	}
	has := func(name string) bool { _, ok := schema.Column(name); return ok }
	unknown := func(what, name string) error {
		return fmt.Errorf("%w: %s %q is not a column of %s; it has: %s", ErrUnknownColumn, what, name, tc.Table, available())
	}

	pk := tc.PrimaryKey
	if len(pk) == 0 {
		pk = schema.PrimaryKey
	}
	if len(pk) == 0 {
		if !has("id") {
			return nil, fmt.Errorf("%w: %s has no primary key and no id column; set primaryKey in the config", ErrNoPrimaryKey, tc.Table)
		}
		pk = []string{"id"}
	}
	for _, c := range pk {
		if err := CheckIdent("primary key column", c); err != nil {
			return nil, err
		}
		if !has(c) {
			return nil, unknown("primary key column", c)
		}
	}

	cursor := tc.CursorColumn
	if cursor == "" && bs.Config.CursorColumn != "" && has(bs.Config.CursorColumn) {
		cursor = bs.Config.CursorColumn
	}
	if cursor == "" && len(pk) == 1 {
		cursor = pk[0]
	}
	full := tc.Mode == ModeFull
	if cursor == "" && !full {
		return nil, errMissingCursor
	}
	var cursorCol Column
	if cursor != "" {
		if err := CheckIdent("cursor column", cursor); err != nil {
			return nil, err
		}
		var ok bool
		if cursorCol, ok = schema.Column(cursor); !ok {
			return nil, unknown("cursor column", cursor)
		}
	}
	if tc.SoftDelete != "" && !has(tc.SoftDelete) {
		return nil, unknown("soft-delete column", tc.SoftDelete)
	}

	var columns []string
	if len(tc.Columns) > 0 {
		for _, c := range tc.Columns {
			if !has(c) {
				return nil, unknown("column", c)
			}
		}
		columns = appendMissing(append([]string(nil), tc.Columns...), pk...)
		if cursor != "" {
			columns = appendMissing(columns, cursor)
		}
		if tc.SoftDelete != "" {
			columns = appendMissing(columns, tc.SoftDelete)
		}
	} else {
		for _, c := range schema.Columns {
			if err := CheckIdent("column", c.Name); err != nil {
				return nil, fmt.Errorf("%w; list the columns to replicate with columns:", err)
			}
			columns = append(columns, c.Name)
		}
	}

	p := &plan{src: bs.Source, schema: schema, cursor: cursor, cursorCol: cursorCol, pk: pk, columns: columns,
		pageSize: bs.Config.PageSize, settle: time.Duration(bs.Config.Settle), lookback: bs.Config.Lookback}
	if tc.PageSize > 0 {
		p.pageSize = tc.PageSize
	}
	if p.pageSize <= 0 {
		p.pageSize = DefaultPageSize
	}
	if tc.Settle != nil {
		p.settle = time.Duration(*tc.Settle)
		if p.settle > 0 && !cursorCol.Temporal {
			return nil, fmt.Errorf("%w: settle needs a timestamp cursor, and %s.%s is %s", ErrUnsupported, tc.Table, cursor, cursorCol.SourceType)
		}
	}
	if !cursorCol.Temporal {
		p.settle = 0 // a source-wide settle applies to timestamp cursors only
	}
	if tc.Lookback != nil {
		p.lookback = *tc.Lookback
	}
	p.full, p.reconcile, p.reconcileEvery = full, tc.Deletes == DeletesReconcile, time.Duration(tc.ReconcileEvery)
	t := &Target{SourceID: bs.Config.ID, SourceTable: tc.Table, Dest: tc.DestName(), PrimaryKey: pk, SoftDelete: tc.SoftDelete}
	for i, name := range columns {
		c, _ := schema.Column(name)
		t.Columns = append(t.Columns, c)
		if name == cursor {
			p.cursorIdx = i
		}
	}
	p.pkIdx = indexes(columns, pk)
	p.target = t
	return p, nil
}

// indexes returns the positions of names in columns.
func indexes(columns, names []string) []int {
	var out []int
	for _, k := range names {
		for i, name := range columns {
			if name == k {
				out = append(out, i)
			}
		}
	}
	return out
}

// keyOrder is the plan that pages on the primary key alone (full refresh):
// the first key column as the cursor, so NULL cursors are read too.
func (p *plan) keyOrder() *plan {
	k := *p
	k.cursor, k.pk = p.pk[0], p.pk[1:]
	k.cursorIdx = indexes(p.columns, p.pk[:1])[0]
	k.pkIdx = indexes(p.columns, k.pk)
	k.settle, k.lookback = 0, Lookback{}
	return &k
}

func appendMissing(list []string, names ...string) []string {
	for _, n := range names {
		found := false
		for _, l := range list {
			if l == n {
				found = true
				break
			}
		}
		if !found {
			list = append(list, n)
		}
	}
	return list
}

// watermarkOf returns the (cursor, pk) position of a row.
func (p *plan) watermarkOf(row []Value) *Watermark {
	w := &Watermark{Cursor: row[p.cursorIdx], PK: make([]Value, len(p.pkIdx))}
	for i, idx := range p.pkIdx {
		w.PK[i] = row[idx]
	}
	return w
}

func (p *plan) request(after *Watermark) PageRequest {
	return PageRequest{Schema: p.schema, Columns: p.columns, Cursor: p.cursor, PrimaryKey: p.pk,
		After: after, Limit: p.pageSize, Settle: p.settle}
}

func (e *Engine) lock(key string) func() {
	e.mu.Lock()
	m := e.running[key]
	if m == nil {
		m = &sync.Mutex{}
		e.running[key] = m
	}
	e.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (e *Engine) runTable(ctx context.Context, bs BoundSource, tc TableConfig, opts RunOptions) (res TableResult) {
	key := bs.Config.ID + "\x00" + tc.Table
	defer e.lock(key)()
	start := time.Now()
	res = TableResult{SourceID: bs.Config.ID, Table: tc.Table, Dest: tc.DestName(), NullCursorRows: -1}
	log := e.logger.With(LogKeySource, bs.Config.ID, LogKeyTable, tc.Table)

	st, err := e.replica.State(ctx, bs.Config.ID, tc.Table)
	if err != nil {
		res.Err = fmt.Errorf("load state: %w", err)
		res.Error = res.Err.Error()
		return res
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
		res.Err = &TableError{SourceID: bs.Config.ID, Table: tc.Table, Err: err}
		res.Error = err.Error()
		st.SourceID, st.Table, st.Dest = bs.Config.ID, tc.Table, tc.DestName()
		st.LastError = err.Error()
		st.LastRun = e.now()
		st.LastRowsPulled = res.RowsPulled
		st.ErrorCount++
		if serr := e.replica.SaveState(context.WithoutCancel(ctx), st); serr != nil {
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
	full := p.full || opts.Full
	if !full && st.Watermark != nil && st.CursorColumn != "" && st.CursorColumn != p.cursor {
		return fmt.Errorf("%w: the watermark was taken on %q, the config now says %q; reset the table (litepull reset) to re-read it on the new cursor",
			ErrCursorChanged, st.CursorColumn, p.cursor)
	}
	if err := e.replica.EnsureTable(ctx, p.target); err != nil {
		return fmt.Errorf("prepare replica table %s: %w", p.target.Dest, err)
	}
	st.SourceID, st.Table, st.Dest, st.CursorColumn = bs.Config.ID, tc.Table, p.target.Dest, p.cursor
	st.LastRowsPulled = 0
	key := bs.Config.ID + "\x00" + tc.Table
	if full {
		return e.fullRefresh(ctx, bs, p, st, res, opts)
	}

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
	pages := e.readPages(readCtx, p, st.Watermark, opts.Drain)
	more := false
	for pr := range pages {
		if pr.err != nil {
			return fmt.Errorf("read page of %s: %w", tc.Table, pr.err)
		}
		n := int64(len(pr.page.Rows))
		more = n == int64(p.pageSize)
		// The next state is built aside and adopted only once committed, so a
		// failed commit never leaves a watermark ahead of its rows.
		next := *st
		now := e.now()
		next.LastRun, next.LastSuccess, next.LastError, next.ErrorCount = now, now, "", 0
		if n > 0 {
			next.Watermark = p.watermarkOf(pr.page.Rows[n-1])
			next.CursorValue = FormatValue(next.Watermark.Cursor)
		}
		next.LastRowsPulled += n
		next.RowsTotal += n
		deleted := p.softDeleted(pr.page.Rows)
		next.RowsDeleted += deleted
		if err := e.replica.CommitPage(ctx, p.target, pr.page.Rows, next); err != nil {
			return fmt.Errorf("write page into %s: %w", p.target.Dest, err)
		}
		*st = next
		res.Pages++
		res.RowsPulled += n
		res.RowsDeleted += deleted
		res.CursorValue = st.CursorValue
		if opts.Progress != nil && n > 0 {
			opts.Progress(Progress{SourceID: bs.Config.ID, Table: tc.Table, Rows: res.RowsPulled})
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
	if !more {
		nulls, err := bs.Source.CountNullCursor(ctx, tc.Table, p.cursor)
		if err != nil {
			return fmt.Errorf("count NULL cursors: %w", err)
		}
		if nulls > 0 && nulls != st.NullCursorRows {
			e.logger.Warn("rows with a NULL cursor are not replicated incrementally",
				LogKeySource, bs.Config.ID, LogKeyTable, tc.Table, "cursor", p.cursor, LogKeyRows, nulls)
		}
		st.NullCursorRows = nulls
		res.NullCursorRows = nulls
		if err := e.replica.SaveState(ctx, *st); err != nil {
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
	}
	return nil
}

// softDeleted counts the rows of a page that a soft-delete column marks.
func (p *plan) softDeleted(rows [][]Value) int64 {
	idx := p.target.SoftDeleteIndex()
	if idx < 0 {
		return 0
	}
	var n int64
	for _, r := range rows {
		if SoftDeleted(r[idx]) {
			n++
		}
	}
	return n
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
			if err := e.replica.CommitPage(ctx, p.target, page.Rows, *st); err != nil {
				return n, err
			}
		}
		n += int64(len(page.Rows))
		if len(page.Rows) < p.pageSize {
			return n, nil
		}
		req.After = p.watermarkOf(page.Rows[len(page.Rows)-1])
	}
}

type pageResult struct {
	page *Page
	err  error
}

// streamPages is how many pages a streaming source reads per query in
// drain mode.
const streamPages = 16

// readPages reads pages from the watermark on, in a goroutine that runs at
// most two pages ahead of the writer (bounded memory). Without drain it reads
// one page.
func (e *Engine) readPages(ctx context.Context, p *plan, after *Watermark, drain bool) <-chan pageResult {
	ch := make(chan pageResult, 1)
	send := func(pr pageResult) error {
		select {
		case ch <- pr:
			return pr.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		defer close(ch)
		req := p.request(after)
		if ps, ok := p.src.(PageStreamer); ok && drain {
			e.streamPages(ctx, ps, p, req, send)
			return
		}
		for {
			page, err := p.readOne(ctx, req)
			if send(pageResult{page, err}) != nil || !drain || len(page.Rows) < p.pageSize {
				return
			}
			req.After = p.watermarkOf(page.Rows[len(page.Rows)-1])
		}
	}()
	return ch
}

// streamPages drains through a PageStreamer, streamPages pages per query.
func (e *Engine) streamPages(ctx context.Context, ps PageStreamer, p *plan, req PageRequest, send func(pageResult) error) {
	for {
		var last []Value
		full := 0
		err := ps.StreamPages(ctx, req, streamPages, func(page *Page) error {
			if err := p.checkPage(page); err != nil {
				return err
			}
			if n := len(page.Rows); n > 0 {
				last = page.Rows[n-1]
			}
			if len(page.Rows) == p.pageSize {
				full++
			}
			return send(pageResult{page: page})
		})
		if err != nil {
			if ctx.Err() == nil {
				send(pageResult{err: err})
			}
			return
		}
		if full < streamPages || last == nil {
			return // the stream ended with a short page: caught up
		}
		req.After = p.watermarkOf(last)
	}
}

func (p *plan) readOne(ctx context.Context, req PageRequest) (*Page, error) {
	page, err := p.src.ReadPage(ctx, req)
	if err != nil {
		return nil, err
	}
	return page, p.checkPage(page)
}

// checkPage guards the engine against a source that breaks the contract:
// a row of the wrong width or a NULL cursor would corrupt the watermark.
func (p *plan) checkPage(page *Page) error {
	for i, row := range page.Rows {
		if len(row) != len(p.columns) {
			return fmt.Errorf("source returned %d values in row %d, want %d", len(row), i, len(p.columns))
		}
		if row[p.cursorIdx] == nil {
			return fmt.Errorf("source returned a NULL cursor in row %d", i)
		}
	}
	return nil
}

// TableCheck is the outcome of checking one table without reading it.
type TableCheck struct {
	SourceID string   `json:"sourceId"`
	Table    string   `json:"table"`
	Dest     string   `json:"dest,omitempty"`
	Cursor   string   `json:"cursorColumn,omitempty"`
	PK       []string `json:"primaryKey,omitempty"`
	Columns  int      `json:"columns"`
	Skipped  string   `json:"skipped,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Check connects to every source, discovers or describes every table, and
// resolves its cursor, key and columns, reading no rows. It reports what a
// run would do and every problem found, per table.
func (e *Engine) Check(ctx context.Context) []TableCheck {
	var out []TableCheck
	for _, bs := range e.sources {
		if err := bs.Source.Ping(ctx); err != nil {
			out = append(out, TableCheck{SourceID: bs.Config.ID, Table: "*", Error: "connect: " + err.Error()})
			continue
		}
		tables, skipped, err := e.Tables(ctx, bs)
		if err != nil {
			out = append(out, TableCheck{SourceID: bs.Config.ID, Table: "*", Error: err.Error()})
			continue
		}
		for _, s := range skipped {
			out = append(out, TableCheck{SourceID: s.SourceID, Table: s.Table, Skipped: s.Skipped})
		}
		for _, tc := range tables {
			c := TableCheck{SourceID: bs.Config.ID, Table: tc.Table, Dest: tc.DestName()}
			if p, err := e.plan(ctx, bs, tc); err != nil {
				c.Error = err.Error()
			} else {
				c.Cursor, c.PK, c.Columns = p.cursor, p.pk, len(p.columns)
			}
			out = append(out, c)
		}
	}
	return out
}
