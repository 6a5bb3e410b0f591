package streamtest_test

import (
	"testing"

	"github.com/litepull/litepull/internal/testdb"
)

// TestMySQLMinimalRowImage: a session that writes with binlog_row_image
// MINIMAL or NOBLOB logs an update's new row without its unchanged
// columns, the key among them. The key is the old row's (a changed key
// is logged), the other columns keep the replica's values: the update
// streams, instead of failing the table with a message about TOAST.
func TestMySQLMinimalRowImage(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE mi (id INT PRIMARY KEY, a INT, b TEXT, c INT); INSERT INTO mi VALUES (1, 1, 'one', 1), (2, 2, 'two', 2), (3, 3, 'three', 3)")
	cfg := myStreamConfig(t, my, "minimal", tableConfig("mi"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	my.Exec(t, "SET SESSION binlog_row_image = 'MINIMAL'")
	my.Exec(t, "UPDATE mi SET a = 10 WHERE id = 1")
	my.Exec(t, "DELETE FROM mi WHERE id = 2")
	my.Exec(t, "UPDATE mi SET id = 4 WHERE id = 3")
	my.Exec(t, "SET SESSION binlog_row_image = 'NOBLOB'")
	my.Exec(t, "UPDATE mi SET c = 30 WHERE id = 4")
	my.Exec(t, "SET SESSION binlog_row_image = 'FULL'")
	if sum := drain(t, e); fullRefreshed(sum, "mi") {
		t.Fatal("mi was copied again; its updates should stream")
	}
	mySameRows(t, my, file, "SELECT id, a, b, c FROM mi ORDER BY id")
}

// TestMySQLTableReplacedUnderItsName: a streamed table dropped and made
// again with the same columns (or another swapped in by RENAME TABLE, or
// CREATE OR REPLACE) is another table with other rows. The stream
// described it again, found the same shape, and kept the old table's rows
// in the replica for good, while every run said ok.
func TestMySQLTableReplacedUnderItsName(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE r (id INT PRIMARY KEY, v TEXT)")
	my.Exec(t, "INSERT INTO r VALUES (1, 'old'), (2, 'old'), (3, 'old')")
	cfg := myStreamConfig(t, my, "replaced", tableConfig("r"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	for i, stmts := range [][]string{
		{"DROP TABLE r", "CREATE TABLE r (id INT PRIMARY KEY, v TEXT)", "INSERT INTO r VALUES (9, 'dropped and made again')"},
		{"CREATE TABLE r_new LIKE r", "INSERT INTO r_new VALUES (7, 'renamed in')", "RENAME TABLE r TO r_old, r_new TO r", "DROP TABLE r_old"},
		{"CREATE OR REPLACE TABLE r (id INT PRIMARY KEY, v TEXT)", "INSERT INTO r VALUES (5, 'replaced')"},
	} {
		for _, q := range stmts {
			my.Exec(t, q)
		}
		drain(t, e)
		rows := mySourceRows(t, my, "SELECT id, v FROM r ORDER BY id")
		if len(rows) != 1 {
			t.Fatalf("step %d: source rows %v", i, rows)
		}
		mySameRows(t, my, file, "SELECT id, v FROM r ORDER BY id")
	}
}
