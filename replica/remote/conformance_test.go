package remote_test

import (
	"context"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/replicatest"
	"github.com/litepull/litepull/replica/remote"
)

// harness is a remote replica under the conformance suite: its test
// server, read directly.
type harness struct{ srv *remotetest.Server }

func (h *harness) Open(tb testing.TB) litepull.Replica { return open(tb, h.srv) }

func (h *harness) Query(tb testing.TB, sql string) [][]any {
	res, err := h.srv.Query(sql, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return res.Rows
}

// open opens a replica on srv, as a new process would.
func open(tb testing.TB, srv *remotetest.Server) *remote.Replica {
	tb.Helper()
	r, err := remote.Open(context.Background(), remotetest.Config(srv))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func TestConformanceStarbase(t *testing.T) {
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness { return &harness{remotetest.NewStarbase(tb)} })
}

func TestConformanceD1(t *testing.T) {
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness { return &harness{remotetest.NewD1(tb)} })
}

func TestConformanceLibSQL(t *testing.T) {
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness { return &harness{remotetest.NewLibSQL(tb)} })
}

// TestConformanceOldSQLite runs the suite on a StarbaseDB whose SQLite has
// no unhex() (before 3.41): BLOBs go inline, and stay exact.
func TestConformanceOldSQLite(t *testing.T) {
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness {
		srv := remotetest.NewStarbase(tb)
		srv.DB.EmulateSQLite340(tb)
		return &harness{srv}
	})
}

// realHarness is a replica in the real StarbaseDB the environment names.
type realHarness struct{ real *remotetest.RealStarbase }

func (h *realHarness) Open(tb testing.TB) litepull.Replica {
	r, err := remote.Open(context.Background(), litepull.ReplicaService{Kind: "starbase", URL: h.real.URL, Token: h.real.Token})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func (h *realHarness) Query(tb testing.TB, sql string) [][]any { return h.real.Query(tb, sql) }

// TestConformanceRealStarbase runs the suite against a real StarbaseDB
// when LITEPULL_REAL_STARBASE_URL and LITEPULL_REAL_STARBASE_TOKEN name
// one (skipped otherwise).
func TestConformanceRealStarbase(t *testing.T) {
	remotetest.NewRealStarbase(t) // skips here, not in each subtest
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness { return &realHarness{remotetest.NewRealStarbase(tb)} })
}
