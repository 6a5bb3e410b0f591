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
