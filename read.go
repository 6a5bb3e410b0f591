package litepull

import (
	"context"
	"fmt"
)

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
			if send(pageResult{page, err}) != nil || !drain || !p.more(page) {
				return
			}
			req.After = p.watermarkOf(page.Rows[len(page.Rows)-1])
		}
	}()
	return ch
}

// streamPages drains through a PageStreamer, streamPages pages per query.
// The stream is over when its last page is not followed by more.
func (e *Engine) streamPages(ctx context.Context, ps PageStreamer, p *plan, req PageRequest, send func(pageResult) error) {
	for {
		var last []Value
		more := false
		var bad error // a page that breaks the contract, not wrapped again by the source
		err := ps.StreamPages(ctx, req, streamPages, func(page *Page) error {
			if bad = p.checkPage(page); bad != nil {
				return bad
			}
			if n := len(page.Rows); n > 0 {
				last = page.Rows[n-1]
			}
			more = p.more(page)
			return send(pageResult{page: page})
		})
		if bad != nil {
			err = bad
		}
		if err != nil {
			if ctx.Err() == nil {
				_ = send(pageResult{err: err}) // returns err itself, or ctx's: the reader stops either way
			}
			return
		}
		if !more || last == nil {
			return // the stream ended with a last page: caught up
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

// more reports whether rows may follow page: it is full, or its source
// ended it early (PageCut).
func (p *plan) more(page *Page) bool {
	return page.More || len(page.Rows) >= p.pageSize
}

// checkPage guards the engine against a source that breaks the contract:
// a row of the wrong width or a NULL cursor would corrupt the watermark.
// It also refuses a row SQLite cannot store, before any of the page is
// written.
func (p *plan) checkPage(page *Page) error {
	for i, row := range page.Rows {
		if len(row) != len(p.columns) {
			return fmt.Errorf("source returned %d values in row %d, want %d", len(row), i, len(p.columns))
		}
		for _, k := range p.keyIdx {
			if row[k] == nil {
				return fmt.Errorf("%w: a row of %s has a NULL in key column %s: the replica's key must be unique and never NULL, or rows would merge or multiply; set primaryKey to NOT NULL columns",
					ErrNoPrimaryKey, p.target.SourceTable, p.columns[k])
			}
		}
		if row[p.cursorIdx] == nil {
			return fmt.Errorf("source returned a NULL cursor in row %d", i)
		}
		if err := p.checkRowSize(row); err != nil {
			return err
		}
	}
	return nil
}

// maxValueBytes is MaxValueBytes; tests lower it.
var maxValueBytes int64 = MaxValueBytes

// checkRowSize refuses a value, or a row, larger than SQLite stores.
func (p *plan) checkRowSize(row []Value) error {
	var total int64
	for i, v := range row {
		n := ValueBytes(v)
		if n > maxValueBytes {
			return fmt.Errorf("%w: column %s of the row at %s holds %d bytes; SQLite stores at most %d bytes in a value "+
				"(leave the column out with columns:, or shorten the value at the source)",
				ErrValueTooLarge, p.columns[i], p.describeRow(row), n, maxValueBytes)
		}
		total += n
	}
	if total > maxValueBytes {
		return fmt.Errorf("%w: the row at %s holds %d bytes; SQLite stores at most %d bytes in a row "+
			"(leave its largest columns out with columns:, or shorten them at the source)",
			ErrValueTooLarge, p.describeRow(row), total, maxValueBytes)
	}
	return nil
}

// describeRow names a row by its position: cursor and primary key.
func (p *plan) describeRow(row []Value) string {
	w := p.watermarkOf(row)
	s := fmt.Sprintf("%s = %s", p.cursor, FormatValue(w.Cursor))
	for i, k := range p.pk {
		if k != p.cursor {
			s += fmt.Sprintf(", %s = %s", k, FormatValue(w.PK[i]))
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
