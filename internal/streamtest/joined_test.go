package streamtest_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// TestTableDroppedAndMadeAgainPublishedByItsOwner: litepull streams as a
// role that does not own the tables, from a publication their owner made
// (as litepull's error tells such a user). A table dropped and made again
// is out of the publication: litepull cannot put it back, and says how;
// once the owner has, the table is copied, not streamed on from its old
// position over its old rows (which kept the dropped table's rows and
// missed the new one's first rows, reported ok).
func TestTableDroppedAndMadeAgainPublishedByItsOwner(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, v text);
		INSERT INTO a VALUES (1, 'a'); INSERT INTO c VALUES (1, 'c')`)
	role := testdb.UniqueName("lp_role_")
	grant := "GRANT SELECT ON ALL TABLES IN SCHEMA " + pg.Schema + " TO " + role
	pg.Exec(t, "CREATE ROLE "+role+" LOGIN REPLICATION; GRANT USAGE ON SCHEMA "+pg.Schema+" TO "+role+"; "+grant)
	t.Cleanup(func() { pg.Exec(t, "DROP OWNED BY "+role+"; DROP ROLE "+role) })
	cfg := streamConfig(t, pg, "owned", litepull.TableConfig{Table: "a"}, litepull.TableConfig{Table: "c"})
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	cfg.DSN = u.String()
	setTables := sprintf("ALTER PUBLICATION %s SET TABLE a, c", cfg.Publication)
	pg.Exec(t, sprintf("CREATE PUBLICATION %s FOR TABLE a, c WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)", cfg.Publication))
	t.Cleanup(func() { pg.Exec(t, "DROP PUBLICATION IF EXISTS "+cfg.Publication) })
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)

	pg.Exec(t, "DROP TABLE c; CREATE TABLE c (id int PRIMARY KEY, v text); INSERT INTO c VALUES (3, 'new'); "+grant)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err == nil && sum.Failed() == 0 {
		t.Fatalf("a run with c out of a publication litepull may not change: no error")
	}
	pg.Exec(t, setTables) // the owner, as the error says
	pg.Exec(t, "UPDATE a SET v = 'a1' WHERE id = 1; INSERT INTO c VALUES (4, 'streamed')")
	drain(t, e)
	sameRows(t, pg, file, "SELECT id, v FROM a ORDER BY id")
	sameRows(t, pg, file, "SELECT id, v FROM c ORDER BY id")
}
