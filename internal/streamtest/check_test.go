package streamtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// TestValidateChecksTheStream: validate (Engine.Check) says what would
// stop a stream, creating no slot and no publication.
func TestValidateChecksTheStream(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE keyed (id bigint PRIMARY KEY); CREATE TABLE unkeyed (id bigint NOT NULL UNIQUE, v text)")
	good := streamConfig(t, pg, "good", tableConfig("keyed"))
	bad := streamConfig(t, pg, "bad", litepull.TableConfig{Table: "unkeyed", PrimaryKey: []string{"id"}})
	e, _ := engine(t, replicaFile(t), good, bad)
	checks := e.Check(context.Background())
	var badErr string
	for _, c := range checks {
		switch {
		case c.SourceID == "good" && c.Error != "":
			t.Errorf("good: %s", c.Error)
		case c.SourceID == "good" && !strings.Contains(c.Note, "streamed"):
			t.Errorf("good: note %q does not say the table is streamed", c.Note)
		case c.SourceID == "bad" && c.Table == "*":
			badErr = c.Error
		}
	}
	if !strings.Contains(badErr, "REPLICA IDENTITY FULL") {
		t.Errorf("a table without a primary key or replica identity: %q, want the fix", badErr)
	}
	var n int
	err := pg.Conn.QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE $1) + (SELECT count(*) FROM pg_publication WHERE pubname LIKE $1)",
		pg.Schema+"%").Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("validate made %d slots or publications (%v)", n, err)
	}
}
