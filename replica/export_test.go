package replica

// SetTestHookAfterRow sets a function run after every upserted row, inside
// the page's transaction.
func SetTestHookAfterRow(f func()) { testHookAfterRow = f }

// SetOnWALSync sets a function that sees each sync of the write-ahead log.
func SetOnWALSync(f func(path string)) { onWALSync = f }
