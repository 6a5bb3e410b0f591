package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/testdb"
)

// TestStreamNeedsSnapshot: a streamed source whose slot was dropped while
// litepull was stopped fails `litepull run`, saying how to take a new
// snapshot; the daemon keeps failing it with backoff, saying so in the
// status, while another source replicates on; POST
// /replicate/run?source=ID&full=1 takes the snapshot and the stream goes on;
// `litepull run -full -source ID` does the same from the command line.
func TestStreamNeedsSnapshot(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a')")
	pg.Exec(t, "CREATE TABLE users (id bigint PRIMARY KEY)")
	const admin = "admin-token"
	t.Setenv("LITEPULL_ADMIN_TOKEN", admin)
	t.Setenv("PG_DSN", pg.DSN)
	slot := pg.Schema + "_res"
	replicaPath := filepath.Join(t.TempDir(), "replica.db")
	cfg := writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_DSN}
    schema: %s
    changes: logical
    slot: %s
    publication: %s
    tables:
      - table: items
  - id: poll
    kind: postgres
    dsn: ${PG_DSN}
    schema: %s
    schedule: every 200ms
    tables:
      - table: users
        cursorColumn: id
`, replicaPath, pg.Schema, slot, slot, pg.Schema))
	t.Cleanup(func() {
		if code, _, errOut := runMain(t, "slot", "drop", "-config", cfg, "-source", "pg"); code != 0 {
			t.Errorf("slot drop: %s", errOut)
		}
	})
	if code, out, errOut := runMain(t, "run", "-config", cfg, "-source", "pg"); code != 0 {
		t.Fatalf("first run exited %d\n%s\n%s", code, out, errOut)
	}
	// The slot is dropped while litepull is stopped, and a row written
	// meanwhile is in no stream.
	dropSlot := func(id int) {
		pg.Exec(t, "SELECT pg_drop_replication_slot('"+slot+"')")
		pg.Exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 'lost')", id))
	}
	dropSlot(2)
	code, out, errOut := runMain(t, "run", "-config", cfg, "-source", "pg")
	if code == 0 || !strings.Contains(out+errOut, "a new snapshot is needed") || !strings.Contains(out+errOut, "litepull run -full -source pg") {
		t.Fatalf("run after the slot was dropped exited %d, want a failure saying how to take a new snapshot\n%s\n%s", code, out, errOut)
	}

	d := startDaemon(t, cfg)
	defer func() { d.stop() }()
	type stream struct {
		SourceID            string `json:"sourceId"`
		ConsecutiveFailures int    `json:"consecutiveFailures"`
		LastError           string `json:"lastError"`
	}
	var status struct {
		Streams []stream `json:"streams"`
	}
	eventually(t, "the follower failing twice, saying a new snapshot is needed", func() bool {
		d.call(t, "GET", "/replicate/status", admin, "", &status)
		return len(status.Streams) == 1 && status.Streams[0].ConsecutiveFailures >= 2 &&
			strings.Contains(status.Streams[0].LastError, "POST /replicate/run?source=pg&full=1")
	})
	count := func(table string) int {
		var q queryAnswer
		d.call(t, "POST", "/query", admin, `{"sql": "SELECT count(*) AS n FROM `+table+`"}`, &q)
		if q.Error != nil || len(q.Result) != 1 {
			return -1
		}
		return int(q.Result[0]["n"].(float64))
	}
	pg.Exec(t, "INSERT INTO users VALUES (1), (2)")
	eventually(t, "the polled source replicating meanwhile", func() bool { return count("users") == 2 })
	if n := count("items"); n != 1 {
		t.Fatalf("the failing source changed its replica table: %d rows", n)
	}

	var run struct {
		Failed  int `json:"failed"`
		Results []struct {
			FullRefresh bool `json:"fullRefresh"`
		} `json:"results"`
	}
	// The follower may be in a session at that moment: the run is refused
	// (already streaming) then, and asked again.
	eventually(t, "POST /replicate/run?source=pg&full=1", func() bool {
		code := d.call(t, "POST", "/replicate/run?source=pg&full=1", admin, "", &run)
		return code == 200 && run.Failed == 0 && len(run.Results) == 1 && run.Results[0].FullRefresh
	})
	pg.Exec(t, "INSERT INTO items VALUES (3, 'streamed')")
	eventually(t, "the stream going on after the snapshot", func() bool { return count("items") == 3 })
	if code := d.stop(); code != 0 {
		t.Fatalf("daemon exited %d", code)
	}
	d.stop = func() int { return 0 }

	dropSlot(4)
	if code, out, errOut := runMain(t, "run", "-config", cfg, "-source", "pg", "-full"); code != 0 {
		t.Fatalf("run -full exited %d\n%s\n%s", code, out, errOut)
	}
	pg.Exec(t, "INSERT INTO items VALUES (5, 'streamed')")
	if code, out, errOut := runMain(t, "run", "-config", cfg, "-source", "pg"); code != 0 || !strings.Contains(out, "items") {
		t.Fatalf("run after run -full exited %d\n%s\n%s", code, out, errOut)
	}
	c, err := sqlite3.Open(replicaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, _, err := c.Prepare("SELECT group_concat(id || '=' || v, ' ') FROM (SELECT * FROM items ORDER BY id)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Step() || st.ColumnText(0) != "1=a 2=lost 3=streamed 4=lost 5=streamed" {
		t.Fatalf("replica items: %q %v", st.ColumnText(0), st.Err())
	}
}
