package litepull

// SetMaxValueBytes lowers the longest value the engine passes to the
// replica, so that a test need not make a gigabyte value; the returned
// function restores it.
func SetMaxValueBytes(n int64) (restore func()) {
	old := maxValueBytes
	maxValueBytes = n
	return func() { maxValueBytes = old }
}
