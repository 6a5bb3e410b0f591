package replica_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/postgres"
)

// The crash test re-runs this test binary as a child that replicates and
// SIGKILLs itself in the middle of a page.
const (
	envChild  = "LITEPULL_CRASH_CHILD"
	envKillAt = "LITEPULL_CRASH_KILL_AT_ROW"
	envDSN    = "LITEPULL_CRASH_DSN"
	envSchema = "LITEPULL_CRASH_SCHEMA"
	envFile   = "LITEPULL_CRASH_REPLICA"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

func crashConfig(dsn, schema string) litepull.SourceConfig {
	return litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: dsn, Schema: schema, PageSize: 1000,
		Tables: []litepull.TableConfig{{Table: "big", CursorColumn: "grp"}}}
}

// crashChild drains the table, killing itself with SIGKILL after the
// configured number of upserted rows (inside a page's transaction).
func crashChild() int {
	killAt, _ := strconv.Atoi(os.Getenv(envKillAt))
	rows := 0
	replica.SetTestHookAfterRow(func() {
		rows++
		if rows == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns: the signal ends the process mid-transaction
		}
	})
	r, err := replica.Open(os.Getenv(envFile))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	cfg := crashConfig(os.Getenv(envDSN), os.Getenv(envSchema))
	src, err := postgres.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil || sum.Failed() > 0 {
		fmt.Fprintln(os.Stderr, err, sum.Tables)
		return 3
	}
	return 0
}

// TestCrashMidPage kills the writer inside page transactions, again and
// again, and checks after every kill that the replica holds exactly the rows
// up to its watermark; at the end, that it equals the source.
func TestCrashMidPage(t *testing.T) {
	pg := testdb.Postgres(t)
	const n = 20000
	pg.Exec(t, "CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, v text NOT NULL)")
	pg.Exec(t, fmt.Sprintf("INSERT INTO big SELECT g, g %% 7, md5(g::text) FROM generate_series(1, %d) AS g", n))
	file := filepath.Join(t.TempDir(), "replica.db")
	rng := rand.New(rand.NewPCG(7, 7))

	child := func(killAt int) error {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envKillAt+"="+strconv.Itoa(killAt),
			envDSN+"="+pg.DSN, envSchema+"="+pg.Schema, envFile+"="+file)
		cmd.Stderr = os.Stderr
		return cmd.Run()
	}

	for i := 0; i < 6; i++ {
		// Each child first finishes a few pages, then dies part-way into one.
		killAt := 1000*(1+rng.IntN(3)) + 1 + rng.IntN(998)
		err := child(killAt)
		status, ok := exitStatus(err)
		if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
			t.Fatalf("child %d: %v; want it killed by SIGKILL at row %d", i, err, killAt)
		}
		checkConsistent(t, pg, file)
	}
	if err := child(0); err != nil {
		t.Fatalf("final run: %v", err)
	}
	checkConsistent(t, pg, file)

	want := sourceRows(t, pg, "SELECT id, grp, v FROM big ORDER BY id")
	r := openReplica(t, file)
	_, got, err := r.Query(context.Background(), "SELECT id, grp, v FROM big ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !reflect.DeepEqual(got, want) {
		t.Fatalf("after recovery the replica has %d rows and differs from the source's %d", len(got), len(want))
	}
}

func exitStatus(err error) (syscall.WaitStatus, bool) {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ws, ok
}

func openReplica(tb testing.TB, file string) *replica.Replica {
	tb.Helper()
	r, err := replica.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// checkConsistent asserts the replica holds exactly the source rows at or
// before its watermark: no row without its watermark, no watermark ahead of
// its rows, nothing twice.
func checkConsistent(t *testing.T, pg *testdb.PG, file string) {
	t.Helper()
	r, err := replica.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	st, err := r.State(ctx, "pg", "big")
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := r.Query(ctx, "SELECT id, grp, v FROM big ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]any
	if st.Watermark != nil {
		want = sourceRows(t, pg, "SELECT id, grp, v FROM big WHERE (grp, id) <= ($1, $2) ORDER BY id", st.Watermark.Cursor, st.Watermark.PK[0])
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Fatalf("replica has %d rows, the source has %d up to the watermark %v: page and watermark are not atomic", len(got), len(want), st.Watermark)
	}
	if st.RowsTotal != int64(len(got)) {
		t.Fatalf("state rows_total %d, replica rows %d", st.RowsTotal, len(got))
	}
}

func sourceRows(tb testing.TB, pg *testdb.PG, q string, args ...any) [][]any {
	tb.Helper()
	rows, err := pg.Conn.Query(context.Background(), q, args...)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) {
		var id int64
		var grp int32
		var v string
		err := r.Scan(&id, &grp, &v)
		return []any{id, int64(grp), v}, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
