package litepull

import (
	"context"
	"fmt"
	"strings"
	"time"
)

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
	pkIdx     []int // the key columns after the cursor in page order
	keyIdx    []int // every key column: none may be NULL
	pageSize  int
	pageBytes int64 // a page's byte budget; 0: DefaultPageBytes
	settle    time.Duration
	lookback  Lookback
	zone      string   // IANA zone of a naive timestamp cursor; "" the source's default
	warnings  []string // about the config, for validate and the run summary

	full bool   // mode: full, or a discovered table without a cursor
	note string // why the table is replicated as it is, for the summary
	// position, for a copy taken from a change stream's snapshot, is the
	// stream position it holds: the table's state records it.
	position Position

	reconcile      bool // deletes: reconcile
	reconcileEvery time.Duration
}

func (e *Engine) plan(ctx context.Context, bs BoundSource, tc TableConfig) (*plan, error) {
	schema, err := bs.Source.Describe(ctx, tc.Table)
	if err != nil {
		return nil, err // sources say "describe <table>" themselves
	}
	q := &planner{bs: bs, tc: tc, schema: schema}
	pk, err := q.key(ctx)
	if err != nil {
		return nil, err
	}
	p := &plan{src: bs.Source, schema: schema, pk: pk}
	if bs.Config.Streams() {
		err = q.streamed(p)
	} else {
		err = q.cursor(p)
	}
	if err != nil {
		return nil, err
	}
	if p.columns, err = q.columns(pk, p.cursor); err != nil {
		return nil, err
	}
	if err := q.timing(p); err != nil {
		return nil, err
	}
	p.reconcile, p.reconcileEvery = tc.Deletes == DeletesReconcile, time.Duration(tc.ReconcileEvery)
	t := &Target{SourceID: bs.Config.ID, SourceTable: tc.Table, Dest: tc.DestName(), PrimaryKey: pk, SoftDelete: tc.SoftDelete}
	for i, name := range p.columns {
		c, _ := schema.Column(name)
		t.Columns = append(t.Columns, c)
		if name == p.cursor {
			p.cursorIdx = i
		}
	}
	p.pkIdx = indexes(p.columns, pk)
	p.keyIdx = p.pkIdx
	p.target = t
	e.fitPages(p) // again by pull, which sets the run's page bytes
	return p, nil
}

// fitPages makes pages no larger than a replica that limits them
// (BatchLimiter) takes in one atomic write.
func (e *Engine) fitPages(p *plan) {
	bl, ok := e.replica.(BatchLimiter)
	if !ok {
		return
	}
	rows, bytes := bl.BatchLimits(p.target)
	if rows > 0 && p.pageSize > rows {
		p.pageSize = rows
	}
	if bytes > 0 && (p.pageBytes <= 0 || p.pageBytes > bytes) {
		p.pageBytes = bytes
	}
}

// planner resolves one table's plan from its config and described schema.
type planner struct {
	bs     BoundSource
	tc     TableConfig
	schema *TableSchema
}

func (q *planner) has(name string) bool { _, ok := q.schema.Column(name); return ok }

func (q *planner) unknown(what, name string) error {
	names := make([]string, len(q.schema.Columns))
	for i, c := range q.schema.Columns {
		names[i] = c.Name
	}
	return fmt.Errorf("%w: %s %q is not a column of %s; it has: %s", ErrUnknownColumn, what, name, q.tc.Table, strings.Join(names, ", "))
}

// key is the configured primary key, else the source's, else "id"; a key
// other than the source's own must be proven unique there.
func (q *planner) key(ctx context.Context) ([]string, error) {
	pk := q.tc.PrimaryKey
	if len(pk) == 0 {
		pk = q.schema.PrimaryKey
	}
	if len(pk) == 0 {
		if !q.has("id") {
			return nil, fmt.Errorf("%w: %s has no primary key and no id column; set primaryKey in the config", ErrNoPrimaryKey, q.tc.Table)
		}
		pk = []string{"id"}
	}
	for _, c := range pk {
		if err := CheckIdent("primary key column", c); err != nil {
			return nil, err
		}
		if !q.has(c) {
			return nil, q.unknown("primary key column", c)
		}
	}
	if !sameNames(pk, q.schema.PrimaryKey) {
		if err := checkUnique(ctx, q.bs.Source, q.schema, q.tc.Table, pk); err != nil {
			return nil, err
		}
	}
	return pk, nil
}

// cursor picks the cursor column (configured, the source's, or a single
// key) and whether the table is copied whole.
func (q *planner) cursor(p *plan) error {
	tc, src := q.tc, q.bs.Config
	cursor := tc.CursorColumn
	if cursor == "" && src.CursorColumn != "" && q.has(src.CursorColumn) {
		cursor = src.CursorColumn
	}
	p.full = tc.Mode == ModeFull
	if cursor == "" && tc.discovered && !p.full {
		// Paging a discovered table on its key would never see an update:
		// without a cursor column that changes with each write, only a whole
		// copy is right.
		p.full = true
		p.note = discoveredFullNote(src.CursorColumn)
	}
	if cursor == "" && len(p.pk) == 1 && !p.full {
		cursor = p.pk[0]
	}
	if cursor == "" && !p.full {
		return errMissingCursor
	}
	if cursor != "" {
		if err := CheckIdent("cursor column", cursor); err != nil {
			return err
		}
		var ok bool
		if p.cursorCol, ok = q.schema.Column(cursor); !ok {
			return q.unknown("cursor column", cursor)
		}
	}
	if tc.SoftDelete != "" && !q.has(tc.SoftDelete) {
		return q.unknown("soft-delete column", tc.SoftDelete)
	}
	p.cursor = cursor
	return nil
}

// streamed readies the plan of a table whose changes are streamed: no
// cursor; copies (the first, and after a shape change) go in key order.
func (q *planner) streamed(p *plan) error {
	if q.tc.SoftDelete != "" && !q.has(q.tc.SoftDelete) {
		return q.unknown("soft-delete column", q.tc.SoftDelete)
	}
	p.full = true
	return nil
}

// columns are the projection (with the key, cursor and soft-delete columns
// added), or every column of the table.
func (q *planner) columns(pk []string, cursor string) ([]string, error) {
	tc := q.tc
	if len(tc.Columns) == 0 {
		var columns []string
		for _, c := range q.schema.Columns {
			if err := CheckIdent("column", c.Name); err != nil {
				return nil, fmt.Errorf("%w; list the columns to replicate under columns", err)
			}
			columns = append(columns, c.Name)
		}
		return columns, nil
	}
	for _, c := range tc.Columns {
		if !q.has(c) {
			return nil, q.unknown("column", c)
		}
	}
	columns := appendMissing(append([]string(nil), tc.Columns...), pk...)
	if cursor != "" {
		columns = appendMissing(columns, cursor)
	}
	if tc.SoftDelete != "" {
		columns = appendMissing(columns, tc.SoftDelete)
	}
	return columns, nil
}

// timing sets the page size, settle, lookback and time zone: the source's,
// overridden by the table's, applied to the cursors they fit.
func (q *planner) timing(p *plan) error {
	tc, src, cc := q.tc, q.bs.Config, p.cursorCol
	p.pageSize, p.settle, p.lookback = src.PageSize, time.Duration(src.Settle), src.Lookback
	if tc.PageSize > 0 {
		p.pageSize = tc.PageSize
	}
	if p.pageSize <= 0 {
		p.pageSize = DefaultPageSize
	}
	if tc.Settle != nil {
		p.settle = time.Duration(*tc.Settle)
		if p.settle > 0 && !cc.Temporal {
			return fmt.Errorf("%w: settle needs a timestamp cursor, and %s.%s is %s", ErrUnsupported, tc.Table, p.cursor, cc.SourceType)
		}
	}
	if !cc.Temporal {
		p.settle = 0 // a source-wide settle applies to timestamp cursors only
	}
	// A source-wide lookback applies to the cursors it fits: a duration to
	// timestamp cursors, an amount to numeric ones. A table's own must fit.
	fits := func(lb Lookback) bool { return lb.IsZero() || (lb.Duration != 0) == cc.Temporal }
	if !fits(p.lookback) {
		p.lookback = Lookback{}
	}
	if tc.Lookback != nil {
		if !fits(*tc.Lookback) {
			return fmt.Errorf("%w: lookback %s does not fit cursor %s.%s (%s): give a duration for timestamp cursors, a number of cursor units for others",
				ErrUnsupported, tc.Lookback, tc.Table, p.cursor, cc.SourceType)
		}
		p.lookback = *tc.Lookback
	}
	if res := cc.Resolution; cc.Temporal && res > 0 && p.lookback.IsZero() {
		// A cursor that steps in whole seconds (or days) puts many rows on
		// the watermark's value; one of them changed later in that step
		// with a lower key sorts behind the watermark. Re-reading the step
		// when caught up finds it (upserts make that harmless).
		if tc.Lookback == nil {
			p.lookback = Lookback{Duration: res}
		} else {
			p.warnings = append(p.warnings, coarseCursorWarning(tc.Table, p.cursor, cc))
		}
	}
	p.zone = src.TimeZone
	if tc.TimeZone != "" {
		p.zone = tc.TimeZone
	}
	return nil
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
		After: after, Limit: p.pageSize, MaxBytes: p.pageBytes, Settle: p.settle, SettleZone: p.zone}
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

// discoveredFullNote says why a discovered table is copied whole.
func discoveredFullNote(cursor string) string {
	if cursor == "" {
		return "copied whole every run (mode: full): the source sets no cursorColumn, and paging on the key would miss updates; list the table under tables: with a cursorColumn to replicate it incrementally"
	}
	return fmt.Sprintf("copied whole every run (mode: full): it has no %s column, and paging on the key would miss updates; list the table under tables: with a cursorColumn to replicate it incrementally", cursor)
}

// checkUnique makes sure a key that is not the source's primary key is
// unique there: a unique index or constraint covers some of its columns.
// Rows that share a key would overwrite each other in the replica, and the
// run would still count them all.
func checkUnique(ctx context.Context, src Source, schema *TableSchema, table string, pk []string) error {
	uk, ok := src.(UniqueKeyer)
	if !ok {
		return fmt.Errorf("%w: this source cannot say whether (%s) is unique in %s; use its primary key", ErrNoPrimaryKey, strings.Join(pk, ", "), table)
	}
	keys, err := uk.UniqueKeys(ctx, table)
	if err != nil {
		return fmt.Errorf("list unique keys: %w", err)
	}
	// The primary key is unique even where no index lists it (SQLite's
	// INTEGER PRIMARY KEY is the rowid).
	if len(schema.PrimaryKey) > 0 {
		keys = append(keys, schema.PrimaryKey)
	}
	for _, k := range keys {
		if len(k) > 0 && containsAll(pk, k) {
			return nil
		}
	}
	return fmt.Errorf("%w: (%s) is not unique in %s: no primary key or unique index covers it, so rows that share it would overwrite each other in the replica; set primaryKey to a unique key, or add a unique index at the source (one that is not DEFERRABLE, for a streamed source)",
		ErrNoPrimaryKey, strings.Join(pk, ", "), table)
}

func sameNames(a, b []string) bool {
	return len(a) == len(b) && containsAll(a, b)
}

// containsAll reports whether every name of sub is in set.
func containsAll(set, sub []string) bool {
	for _, s := range sub {
		found := false
		for _, x := range set {
			found = found || x == s
		}
		if !found {
			return false
		}
	}
	return true
}
