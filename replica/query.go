package replica

import (
	"context"

	"github.com/ncruces/go-sqlite3"
)

// Query runs one statement on the replica connection and returns every row,
// values in SQLite's domain (nil, int64, float64, string, []byte). It is
// meant for checks and tooling; the daemon's query endpoint opens read-only
// connections instead.
func (r *Replica) Query(ctx context.Context, sql string, args ...any) (cols []string, rows [][]any, err error) {
	err = r.locked(ctx, func(c *sqlite3.Conn) error {
		s, _, err := c.Prepare(sql)
		if err != nil {
			return err
		}
		defer s.Close()
		for i, a := range args {
			if err := bind(s, i+1, a); err != nil {
				return err
			}
		}
		n := s.ColumnCount()
		for i := 0; i < n; i++ {
			cols = append(cols, s.ColumnName(i))
		}
		for s.Step() {
			row := make([]any, n)
			if err := s.Columns(row...); err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return s.Err()
	})
	return cols, rows, err
}
