package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

// TestStreamSilence: a stream that the server says nothing on for the
// read timeout fails with a timeout; one that is only idle keeps going,
// with a keepalive every few read timeouts at most.
func TestStreamSilence(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	e.open(t).Close() // the slot and publication, made directly
	ctx := context.Background()
	t.Cleanup(func() {
		// The stream's goodbye went through the proxy: wait for the
		// server to see it before the slot is dropped.
		waitFor(t, "the slot's release", func() bool {
			var active bool
			pg.Conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", e.opts.Slot).Scan(&active)
			return !active
		})
	})
	addr, pause := stalltest.Pausing(t, hostOf(t, pg.DSN))
	const read = 300 * time.Millisecond
	cfg := stallConfig(t, pg.DSN, addr, pg.Schema)
	cfg.ReadTimeout = litepull.Duration(read)
	src, err := postgres.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	cs, err := src.OpenChanges(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if err := cs.Start(ctx, ""); err != nil {
		t.Fatal(err)
	}

	// Idle for several read timeouts: keepalives, no error.
	keepalives := 0
	for start := time.Now(); time.Since(start) < 4*read; {
		ev, err := cs.Next(ctx)
		if err != nil {
			t.Fatalf("Next on an idle stream: %v", err)
		}
		if ev.Kind == litepull.ChangeKeepalive {
			keepalives++
		}
	}
	if keepalives < 4 {
		t.Errorf("%d keepalives in %s of an idle stream with a read timeout of %s, want one every read timeout at least", keepalives, 4*read, read)
	}

	pause()
	start := time.Now()
	for err == nil {
		_, err = cs.Next(ctx)
	}
	var te *litepull.TimeoutError
	if !errors.As(err, &te) || te.Op != litepull.OpRead || te.After != read {
		t.Fatalf("Next on a silent server: %v, want a read timeout after %s", err, read)
	}
	if d := time.Since(start); d > 3*read {
		t.Errorf("the silence was found after %s, want about the read timeout", d)
	}
}

// TestNextHonoursContext: Next returns when its context ends.
func TestNextHonoursContext(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	cs := e.start(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	var err error
	for err == nil {
		_, err = cs.Next(ctx)
	}
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("Next after its context was cancelled: %v after %s", err, time.Since(start))
	}
	// The stream goes on after a cancelled Next.
	pg.Exec(t, "INSERT INTO a VALUES (1)")
	wantRow(t, readTxn(t, cs), "insert a [1]", "after a cancelled Next")
}
