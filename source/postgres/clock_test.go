package postgres_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
)

// TestSettleInDefaultTimeZone: without timeZone, values of a timestamp
// without time zone are taken to be written in the zone a session gets by
// default (here the role's), not in litepull's own UTC session.
func TestSettleInDefaultTimeZone(t *testing.T) {
	pg := testdb.Postgres(t)
	ctx := context.Background()
	role := testdb.UniqueName("lprole_")
	pg.Exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		pg.Conn.Exec(ctx, "DROP OWNED BY "+role)
		pg.Conn.Exec(ctx, "DROP ROLE "+role)
	})
	pg.Exec(t, "ALTER ROLE "+role+" SET timezone = 'America/New_York'")
	pg.Exec(t, "CREATE TABLE local (id bigint PRIMARY KEY, updated_at timestamp)")
	pg.Exec(t, "GRANT USAGE ON SCHEMA "+pg.Schema+" TO "+role)
	pg.Exec(t, "GRANT SELECT ON local TO "+role)
	// As the application writes them: now() in its New York session.
	pg.Exec(t, `INSERT INTO local VALUES (1, (now() AT TIME ZONE 'America/New_York') - interval '2 minutes'),
		(2, (now() AT TIME ZONE 'America/New_York') - interval '30 seconds')`)

	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	settle := litepull.Duration(time.Minute)
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: u.String(), Schema: pg.Schema,
		Tables: []litepull.TableConfig{{Table: "local", CursorColumn: "updated_at", Settle: &settle}}}
	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	_, rows, err := r.Query(ctx, "SELECT id FROM local ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, [][]any{{int64(1)}}) {
		t.Fatalf("replica ids %v, want [1]: row 2 was written 30 seconds ago in the session's default zone (New York) and has not settled", rows)
	}
}

// TestFarFutureCursors: 'infinity' and a year-2999 typo each leave the
// table running, with a warning that says how far ahead and what to do.
func TestFarFutureCursors(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE inf (id bigint PRIMARY KEY, updated_at timestamptz)")
	pg.Exec(t, "INSERT INTO inf VALUES (1, now() - interval '1 hour'), (2, 'infinity')")
	pg.Exec(t, "CREATE TABLE typo (id bigint PRIMARY KEY, updated_at timestamp)")
	pg.Exec(t, "INSERT INTO typo VALUES (1, '2026-01-01 10:00:00'), (2, '2999-01-01 10:00:00')")
	// A Tokyo wall-clock time is now in Tokyo, and 9 hours ahead of a
	// clock that takes it for UTC: a sign that timeZone is missing.
	for _, table := range []string{"tokyo_utc", "tokyo_local"} {
		pg.Exec(t, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, updated_at timestamp)")
		pg.Exec(t, "INSERT INTO "+table+" VALUES (1, now() AT TIME ZONE 'Asia/Tokyo')")
	}
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema, Tables: []litepull.TableConfig{
		{Table: "inf", CursorColumn: "updated_at"},
		{Table: "typo", CursorColumn: "updated_at"},
		{Table: "tokyo_utc", CursorColumn: "updated_at"},
		{Table: "tokyo_local", CursorColumn: "updated_at", TimeZone: "Asia/Tokyo"},
	}}
	c := litepull.Config{Replica: ":memory:", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	src := (&harness{pg}).Open(t, c.Sources[0])
	defer src.Close()
	r := sourcetest.Replicate(t, c.Sources[0], src)
	states, err := r.States(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range states {
		got[st.Dest] = st.CursorAhead
	}
	for dest, want := range map[string]string{
		"inf":         "is at infinity, past every real time",
		"typo":        "is at 2999-01-01T10:00:00.000000, 97",
		"tokyo_utc":   "9h0m0s ahead of the source's clock",
		"tokyo_local": "",
	} {
		if want == "" && got[dest] != "" || !strings.Contains(got[dest], want) {
			t.Errorf("%s: cursorAhead = %q, want it to say %q", dest, got[dest], want)
		}
	}
	if !strings.Contains(got["tokyo_utc"], "set timeZone") {
		t.Errorf("tokyo_utc: cursorAhead = %q, want a hint at timeZone", got["tokyo_utc"])
	}
}
