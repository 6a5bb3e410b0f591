package replica

import (
	"context"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/sqlitex"
)

// Query runs one statement on the replica connection and returns every row,
// values in SQLite's domain (nil, int64, float64, string, []byte). It is
// meant for checks and tooling; the daemon's query endpoint opens read-only
// connections instead.
func (r *Replica) Query(ctx context.Context, sql string, args ...any) (cols []string, rows [][]any, err error) {
	err = r.locked(ctx, func(c *sqlite3.Conn) error {
		cols, rows, err = sqlitex.QueryAll(c, sql, args...)
		return err
	})
	return cols, rows, err
}
