package streamtest_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// The money test's tables: balances move between acct_a and acct_b in
// single transactions, so their sum is the same after every whole
// transaction; misc takes inserts, updates (TOASTed values left alone),
// key moves, deletes and truncates.
const (
	accounts   = 50
	balance    = 1000
	totalMoney = 2 * accounts * balance
	moneySQL   = `CREATE TABLE acct_a (id bigint PRIMARY KEY, balance bigint NOT NULL, note text);
		CREATE TABLE acct_b (id bigint PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE misc (id bigint PRIMARY KEY, v text, big text);
		INSERT INTO acct_a SELECT g, 1000, 'n' || g FROM generate_series(1, 50) g;
		INSERT INTO acct_b SELECT g, 1000 FROM generate_series(1, 50) g;
		INSERT INTO misc SELECT g, 'v' || g, repeat(md5(g::text), 200) FROM generate_series(1, 200) g;`
)

var moneyQueries = []string{
	"SELECT id, balance, note FROM acct_a ORDER BY id",
	"SELECT id, balance FROM acct_b ORDER BY id",
	"SELECT id, v, big FROM misc ORDER BY id",
}

// writeRandomly runs random source transactions on c until stop is closed.
func writeRandomly(t testing.TB, c *pgx.Conn, seed uint64, stop <-chan struct{}) int {
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := context.Background()
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		stmts := randomTransaction(rng)
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Error(err)
			return n
		}
		for _, s := range stmts {
			if s == "SLEEP" {
				time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond) // commits late, after others
				continue
			}
			if _, err = tx.Exec(ctx, s); err != nil {
				break
			}
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			tx.Rollback(ctx)
			if !retryable(err) {
				t.Error(err)
				return n
			}
			continue
		}
		n++
	}
}

// retryable: a deadlock or key clash between writers, which the writer
// just retries with another transaction.
func retryable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "deadlock") || strings.Contains(s, "duplicate key") || strings.Contains(s, "could not serialize")
}

func randomTransaction(rng *rand.Rand) []string {
	a, b, amt := 1+rng.IntN(accounts), 1+rng.IntN(accounts), rng.IntN(100)
	m := rng.IntN(400)
	switch rng.IntN(10) {
	case 0, 1, 2: // money moves between the two tables
		return []string{
			sprintf("UPDATE acct_a SET balance = balance - %d WHERE id %% 1000 = %d", amt, a),
			sprintf("UPDATE acct_b SET balance = balance + %d WHERE id = %d", amt, b)}
	case 3: // and back, committing late
		return []string{
			sprintf("UPDATE acct_b SET balance = balance - %d WHERE id = %d", amt, b), "SLEEP",
			sprintf("UPDATE acct_a SET balance = balance + %d, note = 'late' WHERE id %% 1000 = %d", amt, a)}
	case 4: // an account's key moves (money and all)
		return []string{sprintf("UPDATE acct_a SET id = id + 1000 WHERE id %% 1000 = %d", a)}
	case 5:
		return []string{sprintf("INSERT INTO misc VALUES (%d, 'i', repeat('x', %d)) ON CONFLICT (id) DO UPDATE SET v = 'u'", m, rng.IntN(5000))}
	case 6: // an update that leaves the TOASTed column alone
		return []string{sprintf("UPDATE misc SET v = v || '+' WHERE id = %d", m)}
	case 7:
		return []string{sprintf("DELETE FROM misc WHERE id = %d", m), sprintf("INSERT INTO misc VALUES (%d, 'again', NULL) ON CONFLICT DO NOTHING", m+1)}
	case 8: // a key move in misc, with its TOASTed value
		return []string{sprintf("UPDATE misc SET id = id + 100000 WHERE id = %d", m)}
	default:
		if rng.IntN(20) == 0 {
			return []string{"TRUNCATE misc", "INSERT INTO misc SELECT g, 'after truncate', repeat('y', 3000) FROM generate_series(1, 20) g"}
		}
		return []string{sprintf("UPDATE misc SET v = 'multi' WHERE id BETWEEN %d AND %d", m, m+30)}
	}
}

// checkMoney reads both account tables in one read transaction of the
// replica: between whole source transactions their sum never changes.
// It returns false while the tables are not both there yet.
func checkMoney(c *sqlite3.Conn) (bool, int64, error) {
	s, _, err := c.Prepare(`SELECT (SELECT count(*) FROM acct_a) + (SELECT count(*) FROM acct_b),
		(SELECT sum(balance) FROM acct_a) + (SELECT sum(balance) FROM acct_b)`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return false, 0, nil
		}
		return false, 0, err
	}
	defer s.Close()
	if !s.Step() {
		return false, 0, s.Err()
	}
	return true, s.ColumnInt64(1), nil
}

// watchMoney checks the money invariant on the replica until stop, on a
// connection of its own.
func watchMoney(t testing.TB, file string, stop <-chan struct{}, checks *atomic.Int64) {
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
		ok, sum, err := checkMoney(c)
		switch {
		case err != nil && errors.Is(err, sqlite3.BUSY):
		case err != nil:
			t.Error(err)
			return
		case ok && sum != totalMoney:
			t.Errorf("the replica shows half a source transaction: the accounts sum to %d, want %d", sum, totalMoney)
			return
		case ok:
			checks.Add(1)
		}
	}
}

// TestStreamProperty streams while writers run random transactions
// (multi-table, late commits, key moves, TOAST, deletes, truncates), with
// a reader checking that the replica only ever shows whole source
// transactions; at the end the replica equals the source.
func TestStreamProperty(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, moneySQL)
	cfg := streamConfig(t, pg, "prop")
	var writers []func(stop <-chan struct{}) int
	for seed := range uint64(3) {
		c := connect(t, pg)
		writers = append(writers, func(stop <-chan struct{}) int { return writeRandomly(t, c, seed+1, stop) })
	}
	moneyProperty(t, cfg, writers, func(file, q string) { sameRows(t, pg, file, q) })
}

// moneyProperty follows cfg's source while the writers run random
// transactions until stopped, with a reader checking the money invariant
// on the replica throughout; then it drains, and same compares each money
// table with the source.
func moneyProperty(t *testing.T, cfg litepull.SourceConfig, writers []func(stop <-chan struct{}) int, same func(file, q string)) {
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	stop, watch := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for _, write := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written.Add(int64(write(stop)))
		}()
	}
	var checks atomic.Int64
	go watchMoney(t, file, watch, &checks)

	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() {
		_, err := e.Follow(ctx, cfg.ID)
		followed <- err
	}()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-followed; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("follow: %v", err)
	}
	drain(t, e)
	close(watch)
	for _, q := range moneyQueries {
		same(file, q)
	}
	t.Logf("%d source transactions, %d consistent reads of the replica", written.Load(), checks.Load())
	if written.Load() < 50 || checks.Load() < 50 {
		t.Fatalf("too little happened to prove anything: %d transactions, %d reads", written.Load(), checks.Load())
	}
}
