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

// SetStreamIntervals shortens how often a change stream reads its slot's
// status and samples the source's position (for its lag); the returned
// function restores them.
func SetStreamIntervals(status, sample time.Duration) (restore func()) {
	oldStatus, oldSample := statusEvery, lagSampleEvery
	statusEvery, lagSampleEvery = status, sample
	return func() { statusEvery, lagSampleEvery = oldStatus, oldSample }
}
