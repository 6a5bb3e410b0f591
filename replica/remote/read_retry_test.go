package remote_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remotetest"
	"github.com/litepull/litepull/internal/sqlitetest"
	"github.com/litepull/litepull/replica/remote"
)

// TestReadRetriedAfterBrokenAnswer: a read whose answer arrives cut short
// or garbled (a 200 with half a JSON body) is read again, as a 5xx is: a
// reconciliation, which reads much, finishes on a service that breaks
// one answer in ten.
func TestReadRetriedAfterBrokenAnswer(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		srv := k.new(t)
		r := open(t, srv)
		if err := r.Apply(ctx, litepull.Batch{States: []litepull.State{{SourceID: "s", Table: "t", LastRowsPulled: 3}}}); err != nil {
			t.Fatal(err)
		}
		srv.Faults.Add(sqlitetest.Truncated(), sqlitetest.Malformed())
		st, err := r.State(ctx, "s", "t")
		if err != nil || st.LastRowsPulled != 3 {
			t.Fatalf("state read through two broken answers: %+v, %v", st, err)
		}
	})
}

// TestOpenThroughFailedAnswers: the requests that create the replica's
// own tables are idempotent, and are sent again after a 5xx or a garbled
// answer: one failed answer does not fail a run at Open.
func TestOpenThroughFailedAnswers(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		srv := k.new(t)
		srv.Faults.Add(sqlitetest.Status(http.StatusBadGateway, ""), sqlitetest.Truncated())
		r, err := remote.Open(context.Background(), remotetest.Config(srv))
		if err != nil {
			t.Fatalf("open through a 502 and a cut answer: %v", err)
		}
		r.Close()
	})
}
