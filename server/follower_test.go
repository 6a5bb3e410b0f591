package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/server"
)

// block, as a session's length, is a session that streams until the end.
const block time.Duration = -1

// fakeFollow is a scripted Engine.Follow: session n runs for ran[n-1] of
// the fake clock, then fails, or, for block, streams until ctx ends.
type fakeFollow struct {
	clock   *fakeClock
	ran     []time.Duration
	started chan int
	changed int // session changed ends as the engine ends one whose tables changed at the source

	mu    sync.Mutex
	calls int
}

func (f *fakeFollow) follow(ctx context.Context, sourceID string) ([]litepull.TableResult, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	f.started <- n
	if n > len(f.ran) || f.ran[n-1] == block {
		<-ctx.Done()
		return []litepull.TableResult{{SourceID: sourceID, Table: "t", RowsPulled: 7}}, ctx.Err()
	}
	f.clock.Advance(f.ran[n-1])
	err := fmt.Errorf("slot gone (session %d)", n)
	if n == f.changed {
		err = fmt.Errorf("follow source pg: publication p no longer publishes table t: %w", litepull.ErrStreamChanged)
	}
	return []litepull.TableResult{{SourceID: sourceID, Table: "t", RowsPulled: int64(n), Error: err.Error(), Err: err}}, err
}

// waitStart waits for session n to begin.
func (f *fakeFollow) waitStart(t *testing.T, n int) {
	t.Helper()
	select {
	case got := <-f.started:
		if got != n {
			t.Fatalf("session %d began, want %d", got, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("session %d never began", n)
	}
}

// nextTimer waits until the follower waits on the clock and returns how
// long it waits.
func (c *fakeClock) nextTimer(t *testing.T) time.Duration {
	t.Helper()
	c.idle(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiters[0].at.Sub(c.now)
}

type follower struct {
	f       *server.Follower
	clock   *fakeClock
	fake    *fakeFollow
	log     *syncBuffer
	cancel  context.CancelFunc
	done    chan struct{}
	summary chan *litepull.Summary
}

func startFollower(t *testing.T, ran ...time.Duration) *follower {
	t.Helper()
	return startFollowerChanged(t, 0, ran...)
}

// startFollowerChanged is startFollower whose session changed ends as one
// whose tables changed at the source.
func startFollowerChanged(t *testing.T, changed int, ran ...time.Duration) *follower {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fake := &fakeFollow{clock: clock, ran: ran, started: make(chan int, 100), changed: changed}
	log := &syncBuffer{}
	fl := &follower{clock: clock, fake: fake, log: log, done: make(chan struct{}), summary: make(chan *litepull.Summary, 100)}
	fl.f = server.NewFollower(clock, fake.follow, "pg", slog.New(slog.NewTextHandler(log, nil)))
	fl.f.OnSummary = func(s *litepull.Summary) { fl.summary <- s }
	ctx, cancel := context.WithCancel(context.Background())
	fl.cancel = cancel
	go func() { fl.f.Run(ctx); close(fl.done) }()
	t.Cleanup(func() { cancel(); <-fl.done })
	return fl
}

// stop cancels the follower and wants it to end promptly.
func (fl *follower) stop(t *testing.T) {
	t.Helper()
	fl.cancel()
	select {
	case <-fl.done:
	case <-time.After(2 * time.Second):
		t.Fatal("the follower did not end within 2s of shutdown")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFollowerBacksOff: failed sessions are retried after BackoffBase,
// doubling up to BackoffCap; a session shorter than HealthySession keeps
// the count, a longer one starts it again.
func TestFollowerBacksOff(t *testing.T) {
	s := time.Second
	ran := []time.Duration{0, 30 * s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 * time.Minute, 0, block}
	want := []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, server.BackoffCap, server.BackoffCap, 1 * s, 2 * s}
	fl := startFollower(t, ran...)
	for i, w := range want {
		fl.fake.waitStart(t, i+1)
		got := fl.clock.nextTimer(t)
		if got != w {
			t.Fatalf("after session %d (ran %s) the follower waits %s, want %s", i+1, ran[i], got, w)
		}
		st := fl.f.Status()
		if st.Following || !st.BackoffUntil.Equal(fl.clock.Now().Add(w)) || st.LastError != fmt.Sprintf("slot gone (session %d)", i+1) {
			t.Fatalf("status after session %d = %+v, want a backoff until %s", i+1, st, fl.clock.Now().Add(w))
		}
		fl.clock.Advance(w)
	}
	fl.fake.waitStart(t, len(want)+1)
	if st := fl.f.Status(); !st.Following || st.ConsecutiveFailures != 2 || !st.BackoffUntil.IsZero() || !st.Since.Equal(fl.clock.Now()) {
		t.Errorf("status while following = %+v, want following since now, 2 failures, no backoff", st)
	}
	fl.stop(t)
	if n := strings.Count(fl.log.String(), "change stream failed"); n != len(want) {
		t.Errorf("logged %d failures, want %d:\n%s", n, len(want), fl.log)
	}
	if strings.Contains(fl.log.String(), "context canceled") {
		t.Errorf("the shutdown was logged as a failure:\n%s", fl.log)
	}
}

// TestFollowerPlannedRestart: a session that ends because the stream's
// tables changed at the source (a planned restart: the next session mends
// the publication) is logged at INFO, not as a failure, does not count as
// one, and the next session begins after BackoffBase.
func TestFollowerPlannedRestart(t *testing.T) {
	fl := startFollowerChanged(t, 2, 0, 0, block)
	fl.fake.waitStart(t, 1)
	fl.clock.Advance(fl.clock.nextTimer(t))
	fl.fake.waitStart(t, 2)
	if got := fl.clock.nextTimer(t); got != server.BackoffBase {
		t.Fatalf("after a planned restart the follower waits %s, want %s", got, server.BackoffBase)
	}
	if st := fl.f.Status(); st.ConsecutiveFailures != 1 {
		t.Errorf("status %+v: want the one failure before, the planned restart not counted", st)
	}
	fl.clock.Advance(server.BackoffBase)
	fl.fake.waitStart(t, 3)
	fl.stop(t)
	log := fl.log.String()
	if n := strings.Count(log, "change stream failed"); n != 1 || !strings.Contains(log, `level=INFO msg="the change stream's tables changed at the source`) {
		t.Errorf("log: want one failure and the planned restart at INFO:\n%s", log)
	}
}

// TestFollowerSummaries: every session's results reach OnSummary, the
// session's length as each table's duration; the one ended by shutdown
// too.
func TestFollowerSummaries(t *testing.T) {
	fl := startFollower(t, 2*time.Minute, block)
	fl.fake.waitStart(t, 1)
	fl.clock.Advance(fl.clock.nextTimer(t))
	fl.fake.waitStart(t, 2)
	fl.stop(t)
	close(fl.summary)
	var got []string
	for sum := range fl.summary {
		for _, r := range sum.Tables {
			got = append(got, fmt.Sprintf("%s/%s rows=%d duration=%s error=%q", r.SourceID, r.Table, r.RowsPulled, r.Duration, r.Error))
		}
	}
	want := []string{`pg/t rows=1 duration=2m0s error="slot gone (session 1)"`, `pg/t rows=7 duration=0s error=""`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summaries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFollowerStopsDuringBackoff: a shutdown while the follower waits to
// retry ends it at once, without another session.
func TestFollowerStopsDuringBackoff(t *testing.T) {
	fl := startFollower(t, 0)
	fl.fake.waitStart(t, 1)
	fl.clock.nextTimer(t)
	fl.stop(t)
	select {
	case n := <-fl.fake.started:
		t.Fatalf("session %d began after shutdown", n)
	default:
	}
}
