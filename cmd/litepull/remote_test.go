package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/testdb"
)

// TestRunIntoRemote replicates Postgres into each remote service's test
// server with the real binary: run, status, validate, reconcile and a full
// refresh, every value compared exactly in the server's SQLite.
func TestRunIntoRemote(t *testing.T) {
	for _, k := range []struct {
		name string
		srv  func(testing.TB) *remotetest.Server
	}{{"starbase", remotetest.NewStarbase}, {"d1", remotetest.NewD1}, {"libsql", remotetest.NewLibSQL}} {
		t.Run(k.name, func(t *testing.T) { testRunInto(t, k.srv(t)) })
	}
}

func testRunInto(t *testing.T, srv *remotetest.Server) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE items (id bigint PRIMARY KEY, big bigint, price numeric, ratio float8, data bytea, note text, at timestamptz)")
	// Ties: five rows share each cursor value; pages of 7 cut through them.
	pg.Exec(t, `INSERT INTO items SELECT g, 9007199254740993 + g, (g || '.10')::numeric, g / 3.0, decode(lpad(to_hex(g), 4, '0') || '00ff', 'hex'),
		'n' || g || E'\u00e9', '2026-01-01'::timestamptz + (g / 5) * interval '1 second' FROM generate_series(1, 40) g`)
	t.Setenv("PG_DSN", pg.DSN)
	t.Setenv("REPLICA_TOKEN", remotetest.Token)
	rc := remotetest.Config(srv)
	cfg := writeConfig(t, `
replica:
  kind: `+rc.Kind+`
  url: `+rc.URL+`
  token: ${REPLICA_TOKEN}`+map[bool]string{true: `
  accountId: ` + rc.AccountID + `
  databaseId: ` + rc.DatabaseID, false: ""}[rc.Kind == "d1"]+`
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_DSN}
    schema: `+pg.Schema+`
    pageSize: 7
    tables:
      - table: items
        cursorColumn: at
`)
	code, out, errOut := runMain(t, "run", "-config", cfg, "-drain", "-json")
	if code != 0 {
		t.Fatalf("run -drain exited %d\n%s\n%s", code, out, errOut)
	}
	var sum litepull.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Tables) != 1 || sum.Tables[0].RowsPulled != 40 {
		t.Fatalf("run -drain: %v %+v, want 40 rows", err, sum.Tables)
	}
	checkRemoteItems(t, pg, srv)

	pg.Exec(t, "DELETE FROM items WHERE id IN (3, 4)")
	code, out, errOut = runMain(t, "run", "-config", cfg, "-reconcile", "-json")
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || sum.Tables[0].RowsDeleted != 2 {
		t.Fatalf("run -reconcile exited %d: %v %+v\n%s, want 2 rows deleted", code, err, sum.Tables, errOut)
	}
	checkRemoteItems(t, pg, srv)
	pg.Exec(t, "DELETE FROM items WHERE id = 5")
	pg.Exec(t, "UPDATE items SET note = 'changed' WHERE id = 6")
	srv.Exec(t, `CREATE INDEX items_note ON items (note)`)
	code, out, errOut = runMain(t, "run", "-config", cfg, "-full")
	if code != 0 || !strings.Contains(out, "full refresh") {
		t.Fatalf("run -full exited %d:\n%s\n%s", code, out, errOut)
	}
	checkRemoteItems(t, pg, srv)
	res, err := srv.Query("SELECT count(*) FROM sqlite_schema WHERE name = 'items_note'", nil)
	if err != nil || res.Rows[0][0] != int64(1) {
		t.Errorf("the user's index did not survive the full refresh: %v %v", res, err)
	}

	code, out, _ = runMain(t, "status", "-config", cfg, "-json")
	var states []litepull.State
	if err := json.Unmarshal([]byte(out), &states); code != 0 || err != nil || len(states) != 1 {
		t.Fatalf("status exited %d: %v\n%s", code, err, out)
	}
	if st := states[0]; st.RowsTotal != 37 || st.LastError != "" || st.CursorValue != "2026-01-01T00:00:08.000000Z" || st.LastFullRefresh.IsZero() {
		t.Errorf("state = %+v", st)
	}
	// The seed's seven columns, in the replica a StarbaseDB user sees.
	res, err = srv.Query("SELECT source_id, table_name, cursor_column, cursor_value, last_run_ts IS NOT NULL, last_rows_pulled, last_error FROM tmp_replication_state", nil)
	if err != nil || len(res.Rows) != 1 || fmt.Sprint(res.Rows[0][:4]) != "[pg items at 2026-01-01T00:00:08.000000Z]" {
		t.Errorf("tmp_replication_state: %v %v", res, err)
	}
	code, out, errOut = runMain(t, "validate", "-config", cfg)
	if code != 0 || !strings.Contains(out, "config ok") {
		t.Errorf("validate exited %d:\n%s\n%s", code, out, errOut)
	}
}

// checkRemoteItems compares every value of items in the server's SQLite
// with Postgres, in the lossless mapping: bigint → INTEGER, numeric →
// TEXT, float8 → REAL, bytea → BLOB, timestamptz → UTC ISO-8601 TEXT.
func checkRemoteItems(t *testing.T, pg *testdb.PG, srv *remotetest.Server) {
	t.Helper()
	want := pg.Strings(t, `SELECT id::text || '|' || big::text || '|' || price::text || '|' || ratio::text || '|' || upper(encode(data, 'hex')) || '|' || note
		|| '|' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM items ORDER BY id`)
	res, err := srv.Query(`SELECT id || '|' || big || '|' || price || '|' || ratio || '|' || hex(data) || '|' || note || '|' || at,
		typeof(id) || typeof(big) || typeof(price) || typeof(ratio) || typeof(data) || typeof(note) || typeof(at) FROM items ORDER BY id`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("replica has %d rows, source %d", len(res.Rows), len(want))
	}
	for i, row := range res.Rows {
		got := row[0].(string)
		if !sameRow(got, want[i]) {
			t.Errorf("row %d: replica %q, source %q", i, got, want[i])
		}
		if row[1] != "integerintegertextrealblobtexttext" {
			t.Errorf("row %d types %v", i, row[1])
		}
	}
}

// sameRow compares two |-joined rows, the fourth field (a float8) as the
// number it is: SQLite prints 17 digits, Postgres the shortest form.
func sameRow(a, b string) bool {
	fa, fb := strings.Split(a, "|"), strings.Split(b, "|")
	if len(fa) != len(fb) || len(fa) < 4 {
		return false
	}
	x, err1 := strconv.ParseFloat(fa[3], 64)
	y, err2 := strconv.ParseFloat(fb[3], 64)
	fa[3], fb[3] = "", ""
	return err1 == nil && err2 == nil && x == y && strings.Join(fa, "|") == strings.Join(fb, "|")
}
