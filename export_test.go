package litepull

import "time"

// SetMaxValueBytes lowers the longest value the engine passes to the
// replica, so that a test need not make a gigabyte value; the returned
// function restores it.
func SetMaxValueBytes(n int64) (restore func()) {
	old := maxValueBytes
	maxValueBytes = n
	return func() { maxValueBytes = old }
}

// SetFlushBytes lowers how many bytes of a source transaction's values a
// change stream holds in memory before writing them into the replica
// transaction; the returned function restores it.
func SetFlushBytes(n int64) (restore func()) {
	old := flushBytes
	flushBytes = n
	return func() { flushBytes = old }
}

// SetStatusEvery changes how often a stream reads its status and
// describes its tables afresh; the returned function restores it.
func SetStatusEvery(d time.Duration) (restore func()) {
	old := statusEvery
	statusEvery = d
	return func() { statusEvery = old }
}
