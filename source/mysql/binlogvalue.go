package mysql

import (
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

// binlogDecoding sets the options of a binlog syncer that decide how row
// values arrive, for binlogValue.
func binlogDecoding(cfg *replication.BinlogSyncerConfig) {
	cfg.ParseTime = false
	cfg.UseDecimal = false
	cfg.TimestampStringLocation = time.UTC
}

// binlogValue turns a value of a decoded row event into exactly the value
// the polling path stores for it.
//
// TODO(issue 13): a placeholder until the binlog decoders land.
func (c column) binlogValue(v any) (litepull.Value, error) { return c.convert(v) }
