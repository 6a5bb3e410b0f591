package replica

// SetTestHookAfterRow sets a function run after every upserted row, inside
// the page's transaction.
func SetTestHookAfterRow(f func()) { testHookAfterRow = f }
