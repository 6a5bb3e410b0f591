package streamtest_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// TestStreamCopiesShowWholeTransactions copies tables while writers move
// money between acct_a and acct_b and the stream has a backlog: the first
// copy of every table, runs with -full of one table, a table back in the
// publication. A reader checks throughout that the replica shows both
// account tables or neither, summing to the total: the copies are swapped
// in where the stream reaches their snapshot, together.
func TestStreamCopiesShowWholeTransactions(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, moneySQL)
	cfg := streamConfig(t, pg, "copies")
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	stop, watch := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var written, checks atomic.Int64
	for seed := range uint64(2) {
		c := connect(t, pg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			written.Add(int64(writeRandomly(t, c, seed+200, stop)))
		}()
	}
	var stopOnce sync.Once
	stopWriters := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(stopWriters) // before their connections close, on a failure too
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchWhole(t, file, watch, &checks)
	}()
	stopWatching := func() {
		select {
		case <-watch:
		default:
			close(watch)
		}
		<-watched
	}
	t.Cleanup(stopWatching)
	drain(t, e) // the first copy of every table
	for i := range 4 {
		time.Sleep(300 * time.Millisecond) // a backlog for the stream
		opts := litepull.RunOptions{Drain: true, Full: true, Table: []string{"acct_a", "acct_b"}[i%2]}
		if i == 3 {
			// Out of the publication for a while: it joins it again.
			pg.Exec(t, sprintf("ALTER PUBLICATION %s DROP TABLE acct_b", cfg.Publication))
			opts = litepull.RunOptions{Drain: true}
		}
		sum, err := e.Run(context.Background(), opts)
		if err != nil || sum.Failed() > 0 {
			t.Fatalf("run %d (%+v): %v, %+v", i, opts, err, sum.Tables)
		}
		if want := pg.Schema + "." + []string{"acct_a", "acct_b"}[i%2]; !fullRefreshed(sum, want) {
			t.Fatalf("run %d (%+v) did not copy %s: %+v", i, opts, want, sum.Tables)
		}
	}
	stopWriters()
	drain(t, e)
	stopWatching()
	for _, q := range moneyQueries {
		sameRows(t, pg, file, q)
	}
	t.Logf("%d source transactions, %d reads of the replica", written.Load(), checks.Load())
	if written.Load() < 50 || checks.Load() < 50 {
		t.Fatalf("too little happened to prove anything: %d transactions, %d reads", written.Load(), checks.Load())
	}
}

// watchWhole checks, until stop, that the replica shows both account
// tables or neither, and that they hold the total.
func watchWhole(t *testing.T, file string, stop <-chan struct{}, checks *atomic.Int64) {
	var c *sqlite3.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-stop:
			return
		default:
		}
		time.Sleep(time.Millisecond)
		if c == nil {
			var err error
			if c, err = sqlite3.OpenFlags(file, sqlite3.OPEN_READONLY); err != nil {
				c = nil
				continue // not made yet
			}
		}
		n, err := accountTables(c)
		if err == nil && n == 2 {
			var ok bool
			var sum int64
			ok, sum, err = checkMoney(c)
			if err == nil && ok && sum != totalMoney {
				t.Errorf("the replica shows half a source transaction: the accounts sum to %d, want %d", sum, totalMoney)
				return
			}
		}
		switch {
		case err != nil && errors.Is(err, sqlite3.BUSY):
		case err != nil:
			t.Error(err)
			return
		case n == 1:
			t.Errorf("the replica shows one account table without the other")
			return
		default:
			checks.Add(1)
		}
	}
}

// accountTables counts the account tables the replica shows.
func accountTables(c *sqlite3.Conn) (int, error) {
	s, _, err := c.Prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('acct_a', 'acct_b')")
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if !s.Step() {
		return 0, s.Err()
	}
	return int(s.ColumnInt64(0)), nil
}
