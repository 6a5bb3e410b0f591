package streamtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

// lagOf is the engine's lag in seconds for source id, and whether it
// reported one.
func lagOf(e *litepull.Engine, id string) (float64, bool) {
	for _, si := range e.StreamInfos() {
		if si.SourceID == id {
			return si.LagSeconds, true
		}
	}
	return 0, false
}

// pollLag polls the lag until ok accepts it, for up to 30 s.
func pollLag(t *testing.T, e *litepull.Engine, id, what string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, seen := lagOf(e, id)
		if seen && ok(lag) {
			return lag
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %.3f s (reported %v): never %s", lag, seen, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLagSeconds: while the stream is behind (its replica locked by
// another writer, the source taking writes), its lag in seconds is above
// 0 and grows; once it has caught up, it is 0 again.
func TestLagSeconds(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE watched (id bigint PRIMARY KEY, v text)")
	cfg := streamConfig(t, pg, "lag", tableConfig("watched"))
	file := replicaFile(t)
	e, _ := engine(t, file, cfg)
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
	pollLag(t, e, cfg.ID, "0 while caught up", func(l float64) bool { return l == 0 })

	lock, err := sqlite3.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := lock.Exec("BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "INSERT INTO watched SELECT g, 'x' FROM generate_series(1, 1000) g")
	first := pollLag(t, e, cfg.ID, "above 0.5 s while behind", func(l float64) bool { return l > 0.5 })
	pollLag(t, e, cfg.ID, "growing while behind", func(l float64) bool { return l > first+1 })
	if err := lock.Exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	pollLag(t, e, cfg.ID, "back to 0 once caught up", func(l float64) bool { return l == 0 })
	sameRows(t, pg, file, "SELECT id, v FROM watched ORDER BY id")
}
