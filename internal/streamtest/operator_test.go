package streamtest_test

import (
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// fullRefreshed reports whether a run copied the table again.
func fullRefreshed(sum *litepull.Summary, table string) bool {
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.FullRefresh
		}
	}
	return false
}

// TestIdentityFullWithoutPrimaryKeyStreams streams a table with REPLICA
// IDENTITY FULL and a unique index but no primary key: its rows stream
// like any other's, without copying the table again each session (the
// stream's key flags, every column under FULL, are not a new key).
func TestIdentityFullWithoutPrimaryKeyStreams(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE d (id int NOT NULL, v text); CREATE UNIQUE INDEX d_id ON d (id);
		ALTER TABLE d REPLICA IDENTITY FULL; INSERT INTO d VALUES (1, 'a'), (2, 'b')`)
	cfg := streamConfig(t, pg, "full", litepull.TableConfig{Table: "d"})
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	for i, q := range []string{"UPDATE d SET v = 'b2' WHERE id = 2", "DELETE FROM d WHERE id = 1", "UPDATE d SET id = 3 WHERE id = 2"} {
		pg.Exec(t, q)
		if sum := drain(t, e); fullRefreshed(sum, "d") {
			t.Fatalf("step %d (%s): d was copied again; its changes should stream", i, q)
		}
		sameRows(t, pg, file, "SELECT id, v FROM d ORDER BY id")
	}
}
