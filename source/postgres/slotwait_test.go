package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// abandon streams from the slot as a litepull would, then falls silent
// without closing its connection, like a litepull killed with kill -9
// whose connection the server has not yet seen end: the walsender keeps
// the slot until wal_sender_timeout passes without an answer.
func abandon(t *testing.T, pg *testdb.PG, slot, publication, timeout string) uint32 {
	t.Helper()
	cfg, err := pgconn.ParseConfig(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = "litepull"
	cfg.RuntimeParams["wal_sender_timeout"] = timeout
	ctx := context.Background()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + publication + "'"}})
	if err != nil {
		t.Fatal(err)
	}
	return conn.PID()
}

// TestOpenWaitsForAnAbandonedSlot: a slot still held by the walsender of
// a litepull that died waits until the server lets it go, saying what it
// waits for; a slot a live litepull streams from is refused as soon as
// that one shows it is alive, and never taken from it.
func TestOpenWaitsForAnAbandonedSlot(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema, ReadTimeout: litepull.Duration(3 * time.Second)}
	e := newChangeEnvConfig(t, pg, cfg, "a")
	e.open(t).Close() // makes the slot and the publication
	var logs lockedBuffer
	opts := e.opts
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))

	pid := abandon(t, pg, opts.Slot, opts.Publication, "2s")
	start := time.Now()
	cs, err := e.src.OpenChanges(context.Background(), opts)
	if err != nil {
		t.Fatalf("OpenChanges while an abandoned walsender holds the slot: %v\nlog: %s", err, logs.String())
	}
	waited := time.Since(start)
	if waited > 10*time.Second {
		t.Errorf("OpenChanges waited %s for a walsender whose wal_sender_timeout is 2s", waited)
	}
	for _, want := range []string{"in use by process " + itoa(pid), "waiting up to", "wal_sender_timeout"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if err := cs.Start(context.Background(), ""); err != nil {
		t.Fatalf("Start once the slot was released: %v", err)
	}

	// cs now streams, its status updates every second (a third of the
	// read timeout): another OpenChanges learns it is alive and refuses.
	start = time.Now()
	_, err = e.src.OpenChanges(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "is in use by process") || !strings.Contains(err.Error(), "alive") {
		t.Errorf("OpenChanges while a live stream holds the slot: %v, want it refused as in use by a live process", err)
	}
	if waited := time.Since(start); waited > 8*time.Second {
		t.Errorf("refusing a live holder took %s", waited)
	}
	if _, err := cs.Next(context.Background()); err != nil {
		t.Errorf("the live stream broke: %v", err)
	}
	cs.Close()
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
