package litepull

import (
	"context"
	"fmt"
)

// fullRefresh copies the whole table, in key order and so with its
// NULL-cursor rows, into a shadow table and swaps it in with the new state
// in one transaction. Rows deleted at the source are gone afterwards. If it
// fails, the shadow is dropped and the old table and state stay as they
// were. A table with a cursor keeps paging incrementally afterwards from the
// position its source had when the copy began, so rows changed during the
// copy are read again (upserts make that harmless). That position honours
// settle like any incremental page: a transaction still open during the
// copy, whose rows carry a cursor older than rows already copied, is read
// by the next incremental run.
func (e *Engine) fullRefresh(ctx context.Context, bs BoundSource, p *plan, st *State, res *TableResult, opts RunOptions) error {
	sw, err := e.copyFull(ctx, bs, p, *st, res, opts)
	if err != nil {
		return err
	}
	if err := e.replica.SwapFull(ctx, sw.Target, sw.Shadow, sw.State); err != nil {
		e.dropShadow(ctx, sw.Shadow)
		return fmt.Errorf("swap in the full copy of %s: %w", p.target.Dest, err)
	}
	*st = sw.State
	res.CursorValue, res.NullCursorRows = st.CursorValue, st.NullCursorRows
	return nil
}

// copyFull copies the whole table into a shadow table and returns the
// swap that puts it in place with the table's next state (st after the
// copy). If it fails, the shadow is dropped.
func (e *Engine) copyFull(ctx context.Context, bs BoundSource, p *plan, st State, res *TableResult, opts RunOptions) (sw Swap, err error) {
	res.FullRefresh = true
	start, err := startPosition(ctx, p)
	if err != nil {
		return sw, err
	}
	shadow, err := e.replica.BeginFull(ctx, p.target)
	if err != nil {
		return sw, err
	}
	defer func() {
		if err != nil {
			e.dropShadow(ctx, shadow)
		}
	}()
	if err := e.copyInto(ctx, p, shadow, res, opts); err != nil {
		return sw, err
	}
	next, err := e.afterCopy(ctx, bs, p, st, start, res)
	if err != nil {
		return sw, err
	}
	return Swap{Target: p.target, Shadow: shadow, State: next}, nil
}

// dropShadow drops a shadow table that will not be swapped in.
func (e *Engine) dropShadow(ctx context.Context, shadow *Target) {
	if err := e.replica.DropShadow(context.WithoutCancel(ctx), shadow); err != nil {
		e.logger.Error("drop shadow table", LogKeyTable, shadow.Dest, LogKeyError, err)
	}
}

// startPosition is the source's last (cursor, key) position before the
// copy, inside the settle horizon: incremental runs carry on from it.
func startPosition(ctx context.Context, p *plan) (*Watermark, error) {
	if p.cursor == "" {
		return nil, nil
	}
	req := p.request(nil)
	req.Descending, req.Limit = true, 1
	last, err := p.readOne(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("read the last position before a full refresh: %w", err)
	}
	if len(last.Rows) == 0 {
		return nil, nil
	}
	return p.watermarkOf(last.Rows[0]), nil // the last position: the page is in descending order
}

// copyInto copies the whole table, in key order, into shadow.
func (e *Engine) copyInto(ctx context.Context, p *plan, shadow *Target, res *TableResult, opts RunOptions) error {
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for pr := range e.readPages(readCtx, p.keyOrder(), nil, true) {
		if pr.err != nil {
			return pr.err // sources say "read page of <table>" themselves
		}
		if err := e.replica.Apply(ctx, Batch{Changes: []TableChanges{{Target: shadow, Upserts: pr.page.Rows}}}); err != nil {
			return fmt.Errorf("write page into %s: %w", shadow.Dest, err)
		}
		n := int64(len(pr.page.Rows))
		res.Pages++
		res.RowsPulled += n
		if opts.Progress != nil && n > 0 {
			opts.Progress(Progress{SourceID: p.target.SourceID, Table: p.target.SourceTable, Rows: res.RowsPulled})
		}
	}
	return ctx.Err()
}

// afterCopy checks what pages in key order cannot see and builds the
// state the swap writes: the start position, and counts.
func (e *Engine) afterCopy(ctx context.Context, bs BoundSource, p *plan, next State, start *Watermark, res *TableResult) (State, error) {
	// Pages in key order never return a row whose first key column is NULL
	// (the other key columns are checked row by row): count them, so that
	// such rows fail the table instead of going missing.
	nulls, err := bs.Source.CountNullCursor(ctx, p.target.SourceTable, p.pk[0])
	if err != nil {
		return next, fmt.Errorf("count NULL keys: %w", err)
	}
	if nulls > 0 {
		return next, fmt.Errorf("%w: %d row(s) of %s have a NULL in key column %s: the replica's key must be unique and never NULL; set primaryKey to NOT NULL columns",
			ErrNoPrimaryKey, nulls, p.target.SourceTable, p.pk[0])
	}
	now := e.now()
	next.LastRun, next.LastSuccess, next.LastFullRefresh, next.LastError, next.ErrorCount = now, now, now, "", 0
	next.LastRowsPulled = res.RowsPulled
	next.RowsTotal = res.RowsPulled // the table now holds exactly these rows
	next.Watermark, next.CursorValue, next.NullCursorRows = start, "", -1
	if start != nil {
		next.CursorValue = FormatValue(start.Cursor)
	}
	if p.position != "" {
		next.CursorValue = string(p.position)
	}
	if p.cursor != "" {
		if next.NullCursorRows, err = bs.Source.CountNullCursor(ctx, p.target.SourceTable, p.cursor); err != nil {
			return next, fmt.Errorf("count NULL cursors: %w", err)
		}
	}
	return next, nil
}
