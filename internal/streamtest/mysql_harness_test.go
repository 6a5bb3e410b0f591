package streamtest_test

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// myStreamConfig is a binlog source over the test's database, with a
// server id of its own (a second binlog reader with the same id makes the
// server end the first one's stream).
func myStreamConfig(t testing.TB, my *testdb.My, id string, tables ...litepull.TableConfig) litepull.SourceConfig {
	t.Helper()
	cfg := litepull.SourceConfig{ID: id, Kind: "mysql", DSN: my.DSN, Changes: litepull.ChangesBinlog, ServerID: testServerID(), Tables: tables}
	c := litepull.Config{Replica: "unused.db", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.Sources[0]
}

func testServerID() uint32 {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return 2_000_000_000 + binary.LittleEndian.Uint32(b[:])%2_000_000_000
}

// myChildConfig is the kill test's binlog source.
func myChildConfig(dsn, serverID string) litepull.SourceConfig {
	id, err := strconv.ParseUint(serverID, 10, 32)
	if err != nil {
		panic(err)
	}
	cfg := litepull.SourceConfig{ID: "kill", Kind: "mysql", DSN: dsn, PageSize: 100, Changes: litepull.ChangesBinlog, ServerID: uint32(id)}
	c := litepull.Config{Replica: "unused.db", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c.Sources[0]
}

// myConnect is a writer's connection of its own.
func myConnect(t testing.TB, my *testdb.My) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", my.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// The MySQL money test's tables, as moneySQL.
const myMoneySQL = `CREATE TABLE acct_a (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, note VARCHAR(20));
	CREATE TABLE acct_b (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);
	CREATE TABLE misc (id BIGINT PRIMARY KEY, v VARCHAR(2000), big TEXT)`

// myMoney creates the money test's tables with their rows, and misc rows
// from..to of bulk.
func myMoney(t testing.TB, my *testdb.My, from, to int) {
	t.Helper()
	my.Exec(t, myMoneySQL)
	var a, b []string
	for i := 1; i <= accounts; i++ {
		a = append(a, fmt.Sprintf("(%d, %d, 'n%d')", i, balance, i))
		b = append(b, fmt.Sprintf("(%d, %d)", i, balance))
	}
	my.Exec(t, "INSERT INTO acct_a VALUES "+strings.Join(a, ", "))
	my.Exec(t, "INSERT INTO acct_b VALUES "+strings.Join(b, ", "))
	var rows []string
	flush := func() {
		if len(rows) > 0 {
			my.Exec(t, "INSERT INTO misc VALUES "+strings.Join(rows, ", "))
			rows = rows[:0]
		}
	}
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 'v%d', REPEAT(MD5(%d), 200))", i, i, i))
	}
	flush()
	for i := from; i <= to; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 'bulk', REPEAT('z', 100))", i))
		if len(rows) == 1000 {
			flush()
		}
	}
	flush()
}

// myWriteRandomly runs random source transactions on db until stop is
// closed, as writeRandomly does.
func myWriteRandomly(t testing.TB, db *sql.DB, seed uint64, stop <-chan struct{}) int {
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := context.Background()
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Error(err)
			return n
		}
		for _, s := range myRandomTransaction(rng) {
			if s == "SLEEP" {
				time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond) // commits late, after others
				continue
			}
			if _, err = tx.ExecContext(ctx, s); err != nil {
				break
			}
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			_ = tx.Rollback()
			if !myRetryable(err) {
				t.Error(err)
				return n
			}
			continue
		}
		n++
	}
}

// myRetryable: a deadlock, lock wait or key clash between writers.
func myRetryable(err error) bool {
	var me *driver.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062)
}

func myRandomTransaction(rng *rand.Rand) []string {
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
		return []string{sprintf("INSERT INTO misc VALUES (%d, 'i', REPEAT('x', %d)) ON DUPLICATE KEY UPDATE v = 'u'", m, rng.IntN(5000))}
	case 6: // an update that leaves the large column alone
		return []string{sprintf("UPDATE misc SET v = CONCAT(v, '+') WHERE id = %d", m)}
	case 7:
		return []string{sprintf("DELETE FROM misc WHERE id = %d", m), sprintf("INSERT IGNORE INTO misc VALUES (%d, 'again', NULL)", m+1)}
	case 8: // a key move in misc, with its large value
		return []string{sprintf("UPDATE misc SET id = id + 100000 WHERE id = %d", m)}
	default:
		if rng.IntN(20) == 0 { // TRUNCATE commits on its own; the inserts follow in the transaction
			return []string{"TRUNCATE misc", "INSERT INTO misc VALUES " + twentyRows()}
		}
		return []string{sprintf("UPDATE misc SET v = 'multi' WHERE id BETWEEN %d AND %d", m, m+30)}
	}
}

func twentyRows() string {
	var rows []string
	for i := 1; i <= 20; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 'after truncate', REPEAT('y', 3000))", i))
	}
	return strings.Join(rows, ", ")
}

// mySourceRows reads a query's rows at the source as text (NULL as nil).
func mySourceRows(t testing.TB, my *testdb.My, q string) [][]any {
	t.Helper()
	rows, err := my.DB.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(cols))
		for i, v := range raw {
			if v != nil {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// mySameRows compares the source's and the replica's rows of one query.
func mySameRows(t testing.TB, my *testdb.My, file, q string) {
	t.Helper()
	want, got := mySourceRows(t, my, q), replicaRows(t, file, q)
	if !reflect.DeepEqual(want, got) {
		n := min(len(want), len(got))
		for i := 0; i < n; i++ {
			if !reflect.DeepEqual(want[i], got[i]) {
				t.Fatalf("%s: %d source rows, %d replica rows; first difference at row %d:\nsource  %v\nreplica %v", q, len(want), len(got), i, want[i], got[i])
			}
		}
		t.Fatalf("%s: %d source rows, %d replica rows", q, len(want), len(got))
	}
}
