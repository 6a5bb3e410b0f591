package streamtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
)

// The kill test re-runs this test binary as a child that streams until
// the parent kills it with SIGKILL.
const (
	envChild  = "LITEPULL_STREAM_CHILD"
	envDSN    = "LITEPULL_STREAM_DSN"
	envSchema = "LITEPULL_STREAM_SCHEMA"
	envFile   = "LITEPULL_STREAM_REPLICA"
	// envKind is mysql for a binlog child, whose server id is envServerID.
	envKind     = "LITEPULL_STREAM_KIND"
	envServerID = "LITEPULL_STREAM_SERVER_ID"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(streamChild())
	}
	os.Exit(m.Run())
}

func childConfig(dsn, schema string) litepull.SourceConfig {
	cfg := litepull.SourceConfig{ID: "kill", Kind: "postgres", DSN: dsn, Schema: schema, PageSize: 100,
		Changes: litepull.ChangesLogical, Slot: schema + "_kill", Publication: schema + "_kill"}
	c := litepull.Config{Replica: "unused.db", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c.Sources[0]
}

// streamChild follows the source until it is killed.
func streamChild() int {
	r, err := replica.Open(os.Getenv(envFile))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	cfg := childConfig(os.Getenv(envDSN), os.Getenv(envSchema))
	if os.Getenv(envKind) == "mysql" {
		cfg = myChildConfig(os.Getenv(envDSN), os.Getenv(envServerID))
	}
	src, err := openSource(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	for {
		if _, err := e.Follow(context.Background(), cfg.ID); err != nil {
			fmt.Fprintln(os.Stderr, "follow:", err)
			time.Sleep(100 * time.Millisecond) // e.g. the killed child's slot is still active
		}
	}
}

// TestStreamKill9 kills the streaming process 20 times at random points
// (during the first copy, during re-copies, while applying) while writers
// run; after every kill the replica shows whole source transactions only,
// and at the end it equals the source.
func TestStreamKill9(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, moneySQL)
	pg.Exec(t, "INSERT INTO misc SELECT g, 'bulk', repeat('z', 100) FROM generate_series(1000, 30000) g")
	cfg := childConfig(pg.DSN, pg.Schema)
	t.Cleanup(func() { dropSlot(t, cfg) })

	var writers []func(stop <-chan struct{}) int
	for seed := range uint64(2) {
		c := connect(t, pg)
		writers = append(writers, func(stop <-chan struct{}) int { return writeRandomly(t, c, seed+100, stop) })
	}
	childEnv := []string{envDSN + "=" + pg.DSN, envSchema + "=" + pg.Schema}
	killRepeatedly(t, cfg, childEnv, writers, func(file, q string) { sameRows(t, pg, file, q) })
}

// killRepeatedly starts a child that streams cfg's source into a fresh
// replica (childEnv says how, to streamChild) and kills it with SIGKILL,
// 20 times at random points while the writers run; after every kill the
// replica's money tables must show whole transactions only. Then a final
// drain, and same compares each money table with the source.
func killRepeatedly(t *testing.T, cfg litepull.SourceConfig, childEnv []string, writers []func(stop <-chan struct{}) int, same func(file, q string)) {
	file := replicaFile(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for _, write := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written.Add(int64(write(stop)))
		}()
	}
	rng := rand.New(rand.NewPCG(9, 9))
	consistentReads := 0
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), envChild+"=1", envFile+"="+file), childEnv...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+rng.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if status, ok := exitStatus(err); !ok || !status.Signaled() {
			t.Fatalf("child %d: %v; want it killed", i, err)
		}
		if ok, sum := moneyAfterKill(t, file); ok {
			consistentReads++
			if sum != totalMoney {
				t.Fatalf("after kill %d the replica shows half a source transaction: the accounts sum to %d, want %d", i, sum, totalMoney)
			}
		}
	}
	close(stop)
	wg.Wait()
	finalDrain(t, file, cfg)
	for _, q := range moneyQueries {
		same(file, q)
	}
	t.Logf("%d source transactions; %d of 20 kills left both account tables to check", written.Load(), consistentReads)
}

// finalDrain drains into file, retrying while the last killed child's
// session still holds the source (a walsender keeps its slot a moment).
func finalDrain(t *testing.T, file string, cfg litepull.SourceConfig) {
	e, _ := engine(t, file, cfg)
	for try := 0; ; try++ {
		s, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
		if err == nil && s.Failed() == 0 {
			for _, r := range s.Tables {
				t.Logf("final run: %s: %d rows, copied again %v", r.Table, r.RowsPulled, r.FullRefresh)
			}
			return
		}
		if try == 50 {
			t.Fatalf("final run: %v %+v", err, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// moneyAfterKill reads the account totals from a replica its writer left.
func moneyAfterKill(t *testing.T, file string) (bool, int64) {
	c, err := sqlite3.Open(file) // read-write: a hot WAL may need recovery
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok, sum, err := checkMoney(c)
	if err != nil {
		t.Fatal(err)
	}
	return ok, sum
}

func exitStatus(err error) (syscall.WaitStatus, bool) {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ws, ok
}
