package streamtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// setRecordedPosition rewrites the replica's record of the stream's
// position, as another cluster's or an older litepull's would read.
func setRecordedPosition(t *testing.T, file, source, pos string) {
	t.Helper()
	c, err := sqlite3.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _, err := c.Prepare("UPDATE litepull_streams SET position = ? WHERE source_id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.BindText(1, pos); err != nil {
		t.Fatal(err)
	}
	if err := s.BindText(2, source); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
}

// recordedPosition is the replica's record of the stream's position.
func recordedPosition(t *testing.T, file, source string) string {
	t.Helper()
	rows := replicaRows(t, file, "SELECT position FROM litepull_streams WHERE source_id = '"+source+"'")
	if len(rows) != 1 {
		t.Fatalf("no stream record for %s", source)
	}
	return rows[0][0].(string)
}

// TestPositionOfAnotherCluster: a position carries the Postgres system
// identifier and timeline it was read from; a replica whose position came
// from another cluster at the same dsn (a restored backup, a new server)
// cannot resume from it (a new snapshot is needed), while a position
// recorded before positions carried them still resumes.
func TestPositionOfAnotherCluster(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1)")
	cfg := streamConfig(t, pg, "sys", tableConfig("a"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
	drain(t, e)
	var system, timeline string
	if err := pg.Conn.QueryRow(context.Background(),
		"SELECT system_identifier::text, timeline_id::text FROM pg_control_system(), pg_control_checkpoint()").Scan(&system, &timeline); err != nil {
		t.Fatal(err)
	}
	pos := recordedPosition(t, file, cfg.ID)
	lsn, ident, ok := strings.Cut(pos, "@")
	if !ok || ident != system+":"+timeline {
		t.Fatalf("recorded position %q, want LSN@%s:%s", pos, system, timeline)
	}

	// Recorded before positions carried the server: it still resumes.
	setRecordedPosition(t, file, cfg.ID, lsn)
	pg.Exec(t, "INSERT INTO a VALUES (2)")
	if sum := drain(t, e); fullRefreshed(sum, "a") {
		t.Fatal("a position without the server's identity was not resumed from")
	}
	sameRows(t, pg, file, "SELECT id FROM a ORDER BY id")

	// Another cluster's position: the stream cannot resume; a new
	// snapshot (run -full) copies every table.
	setRecordedPosition(t, file, cfg.ID, lsn+"@1234567890123456789:"+timeline)
	pg.Exec(t, "INSERT INTO a VALUES (3)")
	failed := runAll(t, e)
	if len(failed.Tables) != 1 {
		t.Fatalf("a position recorded against another cluster: %+v, want the source failed", failed.Tables)
	}
	err := failed.Tables[0].Err
	if !errors.Is(err, litepull.ErrSnapshotNeeded) || !strings.Contains(err.Error(), "read from Postgres cluster 1234567890123456789") {
		t.Fatalf("a position recorded against another cluster: %v, want a new snapshot needed, naming the cluster", err)
	}
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true})
	if err != nil || tableErr(t, sum, "a") != nil || !fullRefreshed(sum, "a") {
		t.Fatalf("run -full: %v, %+v", err, sum)
	}
	sameRows(t, pg, file, "SELECT id FROM a ORDER BY id")
	if got := recordedPosition(t, file, cfg.ID); !strings.HasSuffix(got, "@"+system+":"+timeline) {
		t.Errorf("recorded position %q after the copy, want this cluster's", got)
	}
}
