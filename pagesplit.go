package litepull

import (
	"context"
	"errors"
)

// PageSplitter splits the rows of one multi-page query into the pages
// PageStreamer.StreamPages hands out: it cuts them with a PageCut and
// calls emit with each page as soon as it is complete.
type PageSplitter struct {
	cut   PageCut
	page  *Page
	total int // rows the query returned so far
	emit  func(*Page) error
}

// NewPageSplitter returns the splitter of req's pages, handing them to emit.
func NewPageSplitter(req PageRequest, emit func(*Page) error) *PageSplitter {
	s := &PageSplitter{cut: NewPageCut(req), emit: emit}
	s.page = s.newPage()
	return s
}

func (s *PageSplitter) newPage() *Page {
	return &Page{Rows: make([][]Value, 0, s.cut.Capacity())}
}

// Capacity is how many rows a page is allocated for (PageCut.Capacity).
func (s *PageSplitter) Capacity() int { return s.cut.Capacity() }

// Add adds the query's next row and emits the page it completes, if any;
// an error from emit is returned as it is.
func (s *PageSplitter) Add(row []Value) error {
	s.total++
	if !s.cut.Add(s.page, row) {
		return nil
	}
	done := s.page
	s.page = s.newPage()
	return s.emit(done)
}

// End emits what the query, run with LIMIT limit, leaves after its last
// complete page (PageCut.Rest): the table's last page, or leftover rows.
func (s *PageSplitter) End(limit int) error {
	if rest := s.cut.Rest(s.page, s.total, limit); rest != nil {
		return s.emit(rest)
	}
	return nil
}

// FirstPage is ReadPage for a PageStreamer: the first page of a one-page
// stream, stopping the stream there (a page cut by bytes leaves rows of
// the query unread).
func FirstPage(ctx context.Context, ps PageStreamer, req PageRequest) (*Page, error) {
	var page *Page
	err := ps.StreamPages(ctx, req, 1, func(p *Page) error {
		page = p
		return errPageDone
	})
	if errors.Is(err, errPageDone) {
		err = nil
	}
	return page, err
}

// errPageDone stops a one-page stream after its page.
var errPageDone = errors.New("page done")
