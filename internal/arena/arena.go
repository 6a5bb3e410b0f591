// Package arena hands out strings carved from large byte chunks, so that a
// source decoding a page makes one allocation per chunk of text instead of
// one per value.
package arena

import "unsafe"

// Arena hands out strings carved from large byte chunks: one allocation per
// chunk of text instead of one per value, which is most of a reader's
// garbage on a backfill. Bytes are never written again once a string covers
// them, so the strings are as immutable as any other; a chunk is freed when
// the last string in it is. The zero Arena is ready to use; it is not safe
// for concurrent use.
type Arena struct{ buf []byte }

const (
	chunkSize = 64 << 10
	// MaxValue is the longest value carved from a chunk; longer ones get an
	// allocation of their own.
	MaxValue = 4 << 10
)

// String copies b into the arena.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > MaxValue {
		return string(b)
	}
	a.reserve(len(b))
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// Format appends up to max bytes with f and returns them as a string.
func (a *Arena) Format(max int, f func([]byte) []byte) string {
	a.reserve(max)
	start := len(a.buf)
	a.buf = f(a.buf)
	if len(a.buf) == start {
		return ""
	}
	return unsafe.String(&a.buf[start], len(a.buf)-start)
}

// reserve makes room for n more bytes without moving bytes already handed
// out: a full chunk is left as it is and a new one started.
func (a *Arena) reserve(n int) {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(chunkSize, n))
	}
}
