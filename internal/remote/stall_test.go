package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/stall/stalltest"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/starbase"
)

// post posts to url, which must answer or fail within 2s: a stall is not
// retried.
func post(t *testing.T, c *remote.Client, url string) error {
	t.Helper()
	var err error
	stalltest.Within(t, 2*time.Second, func(ctx context.Context) {
		_, err = c.PostJSON(ctx, url, map[string]string{"sql": "SELECT 1"})
	})
	return err
}

func wantTimeout(t *testing.T, err error, op litepull.TimeoutOp, after time.Duration) {
	t.Helper()
	var te *litepull.TimeoutError
	if !errors.As(err, &te) || te.Op != op || te.After != after {
		t.Fatalf("error %v, want a timeout (op %d) after %s", err, op, after)
	}
}

func TestClientStalls(t *testing.T) {
	client := func() *remote.Client {
		c := remote.NewClient("token").WithTimeouts(500*time.Millisecond, time.Second)
		c.BackoffBase = time.Millisecond
		return c
	}

	t.Run("AcceptsAndNeverAnswers", func(t *testing.T) {
		err := post(t, client(), "http://"+stalltest.Silent(t)+"/query/raw")
		wantTimeout(t, err, litepull.OpRead, time.Second)
	})

	t.Run("BodyStallsMidStream", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"result": {"columns": ["a"], "rows": [[1], `))
			w.(http.Flusher).Flush()
			select { // the rest never comes
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		err := post(t, client(), srv.URL+"/query/raw")
		wantTimeout(t, err, litepull.OpRead, time.Second)
	})

	t.Run("SourceConfigSetsTimeouts", func(t *testing.T) {
		cfg := litepull.SourceConfig{ID: "sb", Kind: "starbase", URL: "http://" + stalltest.Silent(t), Token: "t",
			ReadTimeout: litepull.Duration(time.Second), Tables: []litepull.TableConfig{{Table: "orders", CursorColumn: "id"}}}
		src, err := starbase.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := replica.Open(filepath.Join(t.TempDir(), "replica.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
		var sum *litepull.Summary
		stalltest.Within(t, 2*time.Second, func(ctx context.Context) {
			sum, _ = e.Run(ctx, litepull.RunOptions{Drain: true})
		})
		if len(sum.Tables) != 1 || !strings.HasPrefix(sum.Tables[0].Error, "read of orders timed out after 1s") {
			t.Fatalf("results %+v, want the read of orders timed out after 1s", sum.Tables)
		}
	})
}
