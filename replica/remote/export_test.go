package remote

import "time"

// Tests wait a millisecond between resends, and walk keys a few at a time
// so that every key walk (reconciliation) crosses reads.
func init() {
	writeBackoff = time.Millisecond
	keysPerRead = 5
}
