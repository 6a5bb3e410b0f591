package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// txTable is the table the one-transaction phase inserts into.
const txTable = "bench_tx"

// Snapshot loads schema.bench into a fresh replica through a change stream
// of a postgres (changes: logical, slot) or mysql (changes: binlog) source,
// kind: the first drain copies it from the stream's snapshot. It times the whole run, as Replicate does, and
// apart the setup: slot, publication and snapshot, until the first page
// is in.
func Snapshot(ctx context.Context, dir, kind, dsn, schema, slot string, pageSize int) (Result, error) {
	k, err := kindOf(kind)
	if err != nil {
		return Result{}, err
	}
	s, err := openStreamed(dir, k, dsn, schema, Table, slot, pageSize)
	if err != nil {
		return Result{}, err
	}
	defer s.close(ctx)
	progress, first := firstPage()
	start := time.Now()
	sum, err := s.drain(ctx, progress)
	if err != nil {
		return Result{}, err
	}
	return Result{Rows: sum.RowsPulled(), Duration: time.Since(start), Setup: first.Sub(start)}, nil
}

// BigTx follows the stream of an empty table shaped like schema.bench,
// inserts every row of schema.bench into it in one source transaction, and
// times from that commit's return to the moment a reader of the replica
// first sees its rows: all of them at once, since a source transaction is
// applied whole (checked by counting them).
func BigTx(ctx context.Context, dir, kind, dsn, schema, slot string) (Result, error) {
	k, err := kindOf(kind)
	if err != nil {
		return Result{}, err
	}
	s, stop, err := startStream(ctx, dir, k, dsn, schema, txTable, k.like(schema+"."+Table), slot)
	if err != nil {
		return Result{}, err
	}
	defer s.close(ctx)
	res, err := s.insertAll(ctx, schema+"."+Table)
	return res, errors.Join(err, stop())
}

// insertAll inserts every row of from in one transaction and waits for
// the replica to show them.
func (s *streamed) insertAll(ctx context.Context, from string) (Result, error) {
	c, err := s.reader()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	conn, err := s.kind.connect(ctx, s.cfg.DSN)
	if err != nil {
		return Result{}, err
	}
	defer conn.close(ctx)
	n, err := conn.exec(ctx, "INSERT INTO "+s.table+" SELECT * FROM "+from)
	if err != nil {
		return Result{}, fmt.Errorf("insert the rows of %s in one transaction: %w", from, err)
	}
	committed := time.Now()
	seen, err := waitRow(ctx, c, "SELECT 1 FROM "+s.dest+" LIMIT 1", time.Millisecond)
	if err != nil {
		return Result{}, err
	}
	if err := s.expectRows(c, n); err != nil {
		return Result{}, err
	}
	return Result{Rows: n, Duration: seen.Sub(committed)}, nil
}

// expectRows checks that the replica's table holds n rows.
func (s *streamed) expectRows(c *sqlite3.Conn, n int64) error {
	stmt, _, err := c.Prepare("SELECT count(*) FROM " + s.dest)
	if err != nil {
		return err
	}
	defer stmt.Close()
	if !stmt.Step() {
		return fmt.Errorf("count the replica's rows: %w", stmt.Err())
	}
	if got := stmt.ColumnInt64(0); got != n {
		return fmt.Errorf("the replica shows %d rows of %s, want %d", got, s.table, n)
	}
	return nil
}
