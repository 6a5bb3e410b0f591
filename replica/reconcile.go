package replica

import (
	"context"
	"fmt"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/keyset"
	"github.com/litepull/litepull/internal/sqlitedialect"
	"github.com/litepull/litepull/internal/sqlitex"
)

// keyQuery renders SELECT pk, extra... FROM dest [WHERE within] ORDER BY pk.
func keyQuery(t *litepull.Target, within *litepull.KeyRange, extra ...string) (string, []any) {
	q := keyset.New(sqlitedialect.Dialect)
	sel := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		sel[i] = quote(k)
	}
	sel = append(sel, extra...)
	schema := &litepull.TableSchema{Name: t.Dest}
	req := keyset.KeyOrder(schema, t.PrimaryKey)
	if within != nil {
		if within.After != nil {
			req.After = &litepull.Watermark{Cursor: within.After[0], PK: within.After[1:]}
		}
		if within.Through != nil {
			req.Through = &litepull.Watermark{Cursor: within.Through[0], PK: within.Through[1:]}
		}
	}
	q.Keyset(req)
	req.Limit = -1 // SQLite: no limit
	return q.SQL(sel, quote(t.Dest), req), q.Args
}

// KeyRanges walks the primary keys of t.Dest in key order (all of them, or
// those within a range) and cuts them into ranges of size keys, each with
// its count and the sum of hash over its keys — the numbers a source
// computes for the same ranges. Hashes are computed here in Go, from the
// replica's values: HashMD5 over their canonical text, HashSQLite from the
// text this SQLite gives for quote() (the only part of that hash that
// needs SQLite's own hands), so the walk stays one index scan.
func (r *Replica) KeyRanges(ctx context.Context, t *litepull.Target, size int, within *litepull.KeyRange, hash litepull.KeyHash) ([]litepull.KeyRange, []litepull.RangeStat, error) {
	n := len(t.PrimaryKey)
	var extra []string
	if hash == litepull.HashSQLite {
		for _, k := range t.PrimaryKey {
			extra = append(extra, keyhash.QuoteSQL(quote(k)))
		}
	}
	q, args := keyQuery(t, within, extra...)
	cutter := NewRangeCutter(size, within, hash)
	err := r.locked(ctx, func(c *sqlite3.Conn) error {
		s, _, err := c.Prepare(q)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := sqlitex.BindAll(s, args...); err != nil {
			return err
		}
		quoted := make([]string, len(extra))
		for s.Step() {
			row := make([]litepull.Value, n+len(extra))
			if err := s.Columns(row...); err != nil {
				return err
			}
			for i := range quoted {
				quoted[i], _ = row[n+i].(string)
			}
			cutter.Add(row[:n:n], quoted)
		}
		return s.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk keys of %s: %w", t.Dest, err)
	}
	ranges, stats := cutter.Ranges()
	return ranges, stats, nil
}

// Keys returns the primary keys of t.Dest within a range, in key order.
func (r *Replica) Keys(ctx context.Context, t *litepull.Target, within litepull.KeyRange) ([][]litepull.Value, error) {
	q, args := keyQuery(t, &within)
	var out [][]litepull.Value
	err := r.locked(ctx, func(c *sqlite3.Conn) error {
		_, rows, err := sqlitex.QueryAll(c, q, args...)
		out = rows
		return err
	})
	return out, err
}

// deleteKeys deletes rows by primary key inside the caller's transaction.
func (r *Replica) deleteKeys(c *sqlite3.Conn, t *litepull.Target, keys [][]litepull.Value) error {
	if len(keys) == 0 {
		return nil
	}
	s, err := r.deleter(c, t)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := sqlitex.BindAll(s, k...); err != nil {
			return err
		}
		if err := s.Exec(); err != nil {
			return fmt.Errorf("delete from %s: %w", t.Dest, err)
		}
	}
	return nil
}
