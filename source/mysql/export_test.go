package mysql

import "github.com/litepull/litepull"

// LockSnapshots makes a binlog stream take its snapshots as on MySQL,
// under a global read lock, whatever its server: MariaDB knows that way
// too, so the test server can check it.
func LockSnapshots(cs litepull.ChangeStream) { cs.(*binlogStream).lockSnapshot = true }
