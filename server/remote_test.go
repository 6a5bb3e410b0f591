package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/replica/remote"
	"github.com/litepull/litepull/server"
)

// TestRemoteReplicaServesNoQuery: with a remote replica, status is
// served, and /query answers 501 saying where to query instead.
func TestRemoteReplicaServesNoQuery(t *testing.T) {
	srv := remotetest.NewStarbase(t)
	r, err := remote.Open(context.Background(), remotetest.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(context.Background(), server.Config{Engine: litepull.NewEngine(r, nil, nil), Replica: r})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	a := call(t, ts, request{method: "POST", path: "/query", body: `{"sql": "SELECT 1"}`})
	if a.code != http.StatusNotImplemented || !strings.Contains(a.raw, "replica file only") {
		t.Errorf("/query: %d %s, want 501", a.code, a.raw)
	}
	if a := call(t, ts, request{method: "GET", path: "/replicate/status"}); a.code != http.StatusOK {
		t.Errorf("/replicate/status: %d %s", a.code, a.raw)
	}
}
