package mysql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/mysql"
)

// TestFarFutureDatetime: a year-2999 DATETIME leaves the table running,
// with a warning in its state; a DATETIME written now in the server's
// default time zone is not ahead.
func TestFarFutureDatetime(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE typo (id BIGINT PRIMARY KEY, updated_at DATETIME)")
	my.Exec(t, "INSERT INTO typo VALUES (1, '2026-01-01 10:00:00'), (2, '2999-01-01 10:00:00')")
	my.Exec(t, "CREATE TABLE fine (id BIGINT PRIMARY KEY, updated_at DATETIME(6))")
	my.Exec(t, "SET time_zone = @@global.time_zone")
	my.Exec(t, "INSERT INTO fine VALUES (1, NOW(6))")
	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN, Tables: []litepull.TableConfig{
		{Table: "typo", CursorColumn: "updated_at"}, {Table: "fine", CursorColumn: "updated_at"}}}
	src := (&harness{my}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	states, err := r.States(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		switch st.Table {
		case "typo":
			if !strings.Contains(st.CursorAhead, "is at 2999-01-01T10:00:00.000000, 97") || !strings.Contains(st.CursorAhead, "-source my -table typo") {
				t.Errorf("typo: cursorAhead = %q, want the 2999 cursor and the way out", st.CursorAhead)
			}
		case "fine":
			if st.CursorAhead != "" {
				t.Errorf("fine: cursorAhead = %q, want none", st.CursorAhead)
			}
		}
	}
}

// TestClockInZone: the server's clock placed in a named zone needs no time
// zone tables on the server.
func TestClockInZone(t *testing.T) {
	my := testdb.MySQL(t)
	src, err := mysql.New(litepull.SourceConfig{ID: "my", DSN: my.DSN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	now, err := src.Now(context.Background(), "Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	if _, off := now.Zone(); off != 5*3600+1800 {
		t.Errorf("offset %d, want +05:30", off)
	}
	if d := time.Since(now); d < -time.Minute || d > time.Minute {
		t.Errorf("server clock %v is %v from this machine's", now, d)
	}
}

// TestSettleDatetimeInDefaultZone: a DATETIME written by NOW() in a session
// of the server's default time zone settles against the server's clock in
// that zone (CONVERT_TZ to @@global.time_zone), with no timeZone set.
func TestSettleDatetimeInDefaultZone(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE local (id BIGINT PRIMARY KEY, updated_at DATETIME(6))")
	my.Exec(t, "SET time_zone = @@global.time_zone")
	my.Exec(t, "INSERT INTO local VALUES (1, NOW(6) - INTERVAL 2 MINUTE), (2, NOW(6) - INTERVAL 30 SECOND)")
	settle := litepull.Duration(time.Minute)
	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN,
		Tables: []litepull.TableConfig{{Table: "local", CursorColumn: "updated_at", Settle: &settle}}}
	src := (&harness{my}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	_, rows, err := r.Query(context.Background(), "SELECT id FROM local ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != int64(1) {
		t.Fatalf("replica ids %v, want [1]", rows)
	}
}
