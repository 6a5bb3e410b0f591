package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
	"golang.org/x/sync/errgroup"
)

// The tables of the single-row-commit phases: one row per transaction.
const (
	commitsTable = "bench_commits"
	latencyTable = "bench_latency"
)

// CommitsResult measures a stream applying single-row transactions.
type CommitsResult struct {
	Commits, Clients int
	// Source is from the first commit to the last one returned to its
	// client; Applied, to the moment the replica showed every one.
	Source, Applied time.Duration
	// Backlog is how long a drain took to apply Commits more, made while
	// no stream ran: the stream's own pace, whatever the source's.
	Backlog time.Duration
}

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// SourceRate is how fast the clients committed, per second.
func (r CommitsResult) SourceRate() float64 { return perSec(r.Commits, r.Source) }

// AppliedRate is how fast the running stream made them visible.
func (r CommitsResult) AppliedRate() float64 { return perSec(r.Commits, r.Applied) }

// BacklogRate is how fast a drain applied a backlog of them.
func (r CommitsResult) BacklogRate() float64 { return perSec(r.Commits, r.Backlog) }

// Lag is how long after the source's last commit the replica showed it.
func (r CommitsResult) Lag() time.Duration { return r.Applied - r.Source }

// Commits has clients commit n single-row transactions as fast as they
// can while the stream runs, then n more while it is stopped, applied by
// one drain. Postgres clients commit asynchronously (synchronous_commit =
// off: the WAL and so the stream are the same) so that the source, whose
// every commit would wait for a WAL flush, commits as fast as it can;
// MySQL clients commit as the server is set to (a session cannot change
// that).
func Commits(ctx context.Context, dir, kind, dsn, schema, slot string, n, clients int) (CommitsResult, error) {
	k, err := kindOf(kind)
	if err != nil {
		return CommitsResult{}, err
	}
	s, stop, err := startStream(ctx, dir, k, dsn, schema, commitsTable, k.rowColumns, slot)
	if err != nil {
		return CommitsResult{}, err
	}
	defer s.close(ctx)
	res := CommitsResult{Commits: n, Clients: clients}
	err = s.live(ctx, &res)
	if err = errors.Join(err, stop()); err != nil {
		return res, err
	}
	conns, err := k.connectAll(ctx, dsn, clients, k.settings...)
	if err != nil {
		return res, err
	}
	defer closeAll(ctx, conns)
	if err := s.writers(ctx, conns, ids(int64(n+1), int64(2*n)), nil); err != nil {
		return res, err
	}
	if err := waitFlushed(ctx, conns[0]); err != nil {
		return res, err
	}
	start := time.Now()
	if _, err := s.drain(ctx, nil); err != nil {
		return res, err
	}
	res.Backlog = time.Since(start)
	c, err := s.reader()
	if err != nil {
		return res, err
	}
	defer c.Close()
	return res, s.expectRows(c, int64(2*n+1))
}

// live commits res.Commits rows while the stream runs and times them.
func (s *streamed) live(ctx context.Context, res *CommitsResult) error {
	conns, c, err := s.warmUp(ctx, res.Clients, s.kind.settings...)
	if err != nil {
		return err
	}
	defer c.Close()
	defer closeAll(ctx, conns)
	n := res.Commits
	start := time.Now()
	if err := s.writers(ctx, conns, ids(1, int64(n)), nil); err != nil {
		return err
	}
	res.Source = time.Since(start)
	seen, err := waitRow(ctx, c, "SELECT 1 WHERE (SELECT count(*) FROM "+s.dest+") > ?", time.Millisecond, n)
	res.Applied = seen.Sub(start)
	return err
}

// warmUp connects the clients and a reader of the replica, and commits
// row 0 and waits for the replica to show it: the stream is then past its
// first transaction (the table's description).
func (s *streamed) warmUp(ctx context.Context, clients int, settings ...string) ([]client, *sqlite3.Conn, error) {
	conns, err := s.kind.connectAll(ctx, s.cfg.DSN, clients, settings...)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.reader()
	if err == nil {
		_, err = conns[0].exec(ctx, "INSERT INTO "+s.table+" (id) VALUES (0)")
	}
	if err == nil {
		_, err = waitRow(ctx, c, "SELECT 1 FROM "+s.dest+" WHERE id = 0", time.Millisecond)
	}
	if err != nil {
		closeAll(ctx, conns)
		if c != nil {
			c.Close()
		}
		return nil, nil, err
	}
	return conns, c, nil
}

// asyncCommit makes a Postgres session's commits return before their WAL
// is flushed.
const asyncCommit = "SET synchronous_commit = off"

// connectAll opens n connections, each running settings first.
func (k streamKind) connectAll(ctx context.Context, dsn string, n int, settings ...string) ([]client, error) {
	conns := make([]client, 0, n)
	for range n {
		c, err := k.connect(ctx, dsn, settings...)
		if err != nil {
			closeAll(ctx, conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(ctx context.Context, conns []client) {
	for _, c := range conns {
		c.close(ctx)
	}
}

// waitFlushed waits until the server has flushed the WAL inserted so far. A
// drain applies the WAL written when it starts (pg_current_wal_lsn), and
// asynchronous commits may still be in the server's WAL buffers. A MySQL
// commit returns once its binlog is written: nothing to wait for.
func waitFlushed(ctx context.Context, c client) error {
	pc, ok := c.(pgClient)
	if !ok {
		return nil
	}
	conn := pc.c
	var inserted string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&inserted); err != nil {
		return err
	}
	for {
		var flushed bool
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn", inserted).Scan(&flushed); err != nil || flushed {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ids feeds the ids from..to as fast as they are taken.
func ids(from, to int64) func(context.Context, chan<- int64) {
	return func(ctx context.Context, out chan<- int64) {
		for id := from; id <= to; id++ {
			select {
			case out <- id:
			case <-ctx.Done():
				return
			}
		}
	}
}

// writers inserts into the source table, on each connection in parallel,
// the ids feed sends, one transaction per row, calling done (if set) with
// each id once its commit has returned.
func (s *streamed) writers(ctx context.Context, conns []client, feed func(context.Context, chan<- int64), done func(int64)) error {
	g, ctx := errgroup.WithContext(ctx)
	ch := make(chan int64)
	g.Go(func() error {
		defer close(ch)
		feed(ctx, ch)
		return nil
	})
	q := "INSERT INTO " + s.table + " (id) VALUES (" + s.kind.arg + ")"
	for _, conn := range conns {
		g.Go(func() error {
			for id := range ch {
				if _, err := conn.exec(ctx, q, id); err != nil {
					return fmt.Errorf("commit row %d: %w", id, err)
				}
				if done != nil {
					done(id)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
