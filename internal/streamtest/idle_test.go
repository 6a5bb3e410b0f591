package streamtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/testdb"
)

// TestIdleStreamReleasesWAL: while the replicated tables are idle and
// other tables take writes, the stream still confirms the source's
// position, so its slot does not hold the WAL back.
func TestIdleStreamReleasesWAL(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE watched (id bigint PRIMARY KEY); CREATE TABLE other (id bigint PRIMARY KEY, v text)")
	cfg := streamConfig(t, pg, "idle", tableConfig("watched"))
	e, _ := engine(t, replicaFile(t), cfg)
	drain(t, e)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Follow(ctx, cfg.ID)
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("follow: %v", err)
		}
	}()
	pg.Exec(t, "INSERT INTO other SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g")
	var target string
	if err := pg.Conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		var behind bool
		err := pg.Conn.QueryRow(context.Background(),
			"SELECT confirmed_flush_lsn < $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2", target, cfg.Slot).Scan(&behind)
		if err != nil {
			t.Fatal(err)
		}
		if !behind {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot's confirmed position stayed behind %s for 40 s while the replicated table was idle", target)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
