package streamtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// TestMySQLStreamProperty streams a MySQL/MariaDB binlog while writers run
// random transactions (multi-table, late commits, key moves, deletes,
// truncates), with a reader checking that the replica only ever shows
// whole source transactions; at the end the replica equals the source.
func TestMySQLStreamProperty(t *testing.T) {
	my := testdb.MySQL(t)
	myMoney(t, my, 1, 0)
	cfg := myStreamConfig(t, my, "prop")
	var writers []func(stop <-chan struct{}) int
	for seed := range uint64(3) {
		db := myConnect(t, my)
		writers = append(writers, func(stop <-chan struct{}) int { return myWriteRandomly(t, db, seed+1, stop) })
	}
	moneyProperty(t, cfg, writers, func(file, q string) { mySameRows(t, my, file, q) })
}

// TestMySQLValidateChecksTheStream: validate (Engine.Check) says what
// would stop a binlog stream.
func TestMySQLValidateChecksTheStream(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE keyed (id BIGINT PRIMARY KEY)")
	good := myStreamConfig(t, my, "good", tableConfig("keyed"))
	bad := myStreamConfig(t, my, "bad", tableConfig("keyed"), litepull.TableConfig{Table: "nosuch"})
	e, _ := engine(t, replicaFile(t), good, bad)
	var badErr string
	for _, c := range e.Check(context.Background()) {
		switch {
		case c.SourceID == "good" && c.Error != "":
			t.Errorf("good: %s", c.Error)
		case c.SourceID == "good" && !strings.Contains(c.Note, "streamed (changes: binlog)"):
			t.Errorf("good: note %q does not say the table is streamed", c.Note)
		case c.SourceID == "bad" && c.Table == "*":
			badErr = c.Error
		}
	}
	if !strings.Contains(badErr, "no such table") {
		t.Errorf("a missing table: %q, want it named", badErr)
	}
}

// TestMySQLStreamAlter: a column added to a streamed table while the
// stream runs has the table copied again, old rows with the new column's
// value, and the rows written after it streamed.
func TestMySQLStreamAlter(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20)); INSERT INTO items VALUES (1, 'a')")
	cfg := myStreamConfig(t, my, "alter", tableConfig("items"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() {
		_, err := e.Follow(ctx, cfg.ID)
		followed <- err
	}()
	waitRows := func(q string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			rows, err := tryReplicaRows(file, q) // no column n until the copy
			if err == nil && len(rows) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v %v, want %d rows", q, rows, err, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	my.Exec(t, "INSERT INTO items VALUES (2, 'b')")
	waitRows("SELECT id FROM items", 2) // streaming
	my.Exec(t, "ALTER TABLE items ADD COLUMN n BIGINT NOT NULL DEFAULT 7")
	my.Exec(t, "INSERT INTO items VALUES (3, 'c', 30)")
	const q = "SELECT id, name, n FROM items ORDER BY id"
	waitRows(q, 3)
	cancel()
	if err := <-followed; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("follow: %v", err)
	}
	mySameRows(t, my, file, q)
}
