package postgres

import "unsafe"

// arena hands out strings carved from large byte chunks: one allocation per
// chunk of text instead of one per value, which is most of the reader's
// garbage on a backfill. Bytes are never written again once a string covers
// them, so the strings are as immutable as any other; a chunk is freed when
// the last string in it is.
type arena struct{ buf []byte }

const (
	arenaChunk = 64 << 10
	arenaMax   = 4 << 10 // larger values get an allocation of their own
)

// string copies b into the arena.
func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaMax {
		return string(b)
	}
	a.reserve(len(b))
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// format appends up to max bytes with f and returns them as a string.
func (a *arena) format(max int, f func([]byte) []byte) string {
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
func (a *arena) reserve(n int) {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(arenaChunk, n))
	}
}
