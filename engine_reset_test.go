package litepull_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

// gatedSource blocks its second ReadPage until released: a run caught in the
// middle of a table, its first page committed and more to come.
type gatedSource struct {
	litepull.Source
	calls   int
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSource) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	if g.calls++; g.calls == 2 {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Source.ReadPage(ctx, req)
}

// TestResetWaitsForTheRunningTable resets a table while a run of it is
// caught mid-table: the reset must not be undone by the run's next page
// commit. It waits for the run (or, out of time, fails and says why) and
// takes effect after it.
func TestResetWaitsForTheRunningTable(t *testing.T) {
	e, r := newEngine(t, sourceFile(t, 30), litepull.TableConfig{Table: "t", Dest: "t_copy", CursorColumn: "id"})
	bs := e.Sources()[0]
	g := &gatedSource{Source: bs.Source, entered: make(chan struct{}), release: make(chan struct{})}
	bs.Source = g
	e = litepull.NewEngine(r, []litepull.BoundSource{bs}, nil)

	ctx := context.Background()
	runDone := make(chan *litepull.Summary, 1)
	go func() {
		sum, err := e.Run(ctx, litepull.RunOptions{Drain: true})
		if err != nil {
			t.Errorf("run: %v", err)
		}
		runDone <- sum
	}()
	<-g.entered

	// Out of time while the run goes on: refused, and it says so.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := e.Reset(short, "s", "t")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reset that ran out of time while the table runs = %v, want DeadlineExceeded", err)
	}

	// By the replica (dest) name; released while it waits.
	resetDone := make(chan error, 1)
	go func() {
		name, err := e.Reset(ctx, "s", "t_copy")
		if err == nil && name != "t" {
			err = errors.New("reset resolved t_copy to " + name + ", want t")
		}
		resetDone <- err
	}()
	select {
	case err := <-resetDone: // today's code: done at once, then undone by the run
		resetDone <- err
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	if sum := <-runDone; sum == nil || sum.Failed() > 0 || sum.Tables[0].RowsPulled != 30 {
		t.Fatalf("run: %+v", sum)
	}
	if err := <-resetDone; err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx, "s", "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.Watermark != nil || st.RowsTotal != 0 {
		t.Fatalf("state after the reset = watermark %v, %d rows; the run wrote its state back over the reset", st.Watermark, st.RowsTotal)
	}

	if _, err := e.Reset(ctx, "s", "nope"); !errors.Is(err, litepull.ErrNoTable) {
		t.Errorf("reset of an unknown table = %v, want ErrNoTable", err)
	}
	if _, err := e.Reset(ctx, "nope", "t"); !errors.Is(err, litepull.ErrNoTable) {
		t.Errorf("reset of an unknown source = %v, want ErrNoTable", err)
	}
}
