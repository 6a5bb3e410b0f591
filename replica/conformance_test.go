package replica_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/replicatest"
	"github.com/litepull/litepull/replica"
)

// fileHarness is the replica file under the conformance suite.
type fileHarness struct {
	path string
	last *replica.Replica
}

func (h *fileHarness) Open(tb testing.TB) litepull.Replica {
	if h.last != nil {
		h.last.Close()
	}
	r, err := replica.Open(h.path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	h.last = r
	return r
}

func (h *fileHarness) Query(tb testing.TB, sql string) [][]any {
	_, rows, err := h.last.Query(context.Background(), sql)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

func TestConformance(t *testing.T) {
	replicatest.Run(t, func(tb testing.TB) replicatest.Harness {
		return &fileHarness{path: filepath.Join(tb.TempDir(), "replica.db")}
	})
}
