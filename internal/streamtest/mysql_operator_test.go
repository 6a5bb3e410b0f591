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
