package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/server"
)

// fakeClock moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// recorder is a fake engine run: it records calls and answers per table.
type recorder struct {
	mu     sync.Mutex
	calls  []string
	clock  *fakeClock
	at     []time.Duration
	start  time.Time
	answer func(table string, n int) litepull.TableResult
	count  map[string]int
	signal chan struct{}
}

func (r *recorder) run(_ context.Context, opts litepull.RunOptions) (*litepull.Summary, error) {
	r.mu.Lock()
	r.count[opts.Table]++
	res := r.answer(opts.Table, r.count[opts.Table])
	res.Table = opts.Table
	r.calls = append(r.calls, opts.Table)
	r.at = append(r.at, r.clock.Now().Sub(r.start))
	r.mu.Unlock()
	r.signal <- struct{}{}
	return &litepull.Summary{Tables: []litepull.TableResult{res}}, nil
}

// wait blocks until n more runs have happened.
func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.signal:
		case <-time.After(5 * time.Second):
			t.Fatalf("waited for run %d of %d; runs so far: %v", i+1, n, r.calls)
		}
	}
}

// idle waits until the scheduler is waiting on the clock again.
func (c *fakeClock) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the scheduler never went back to waiting")
}

func newScheduler(t *testing.T, answer func(string, int) litepull.TableResult, jobs ...server.Job) (*server.Scheduler, *fakeClock, *recorder, func()) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := &recorder{clock: clock, start: clock.now, answer: answer, count: map[string]int{}, signal: make(chan struct{}, 100)}
	s := server.NewScheduler(clock, rec.run, jobs, nil)
	s.Jitter = func(time.Duration) time.Duration { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return s, clock, rec, func() { cancel(); <-done }
}

func mustSchedule(t *testing.T, s string) litepull.Schedule {
	sched, err := litepull.ParseSchedule(s)
	if err != nil {
		t.Fatal(err)
	}
	return sched
}

func TestSchedulerBacksOffFailingTableOnly(t *testing.T) {
	answer := func(table string, n int) litepull.TableResult {
		if table == "bad" {
			return litepull.TableResult{Error: "source down", Err: errors.New("source down")}
		}
		return litepull.TableResult{}
	}
	s, clock, rec, stop := newScheduler(t, answer,
		server.Job{SourceID: "s", Table: "good", Schedule: mustSchedule(t, "every 2s")},
		server.Job{SourceID: "s", Table: "bad", Schedule: mustSchedule(t, "every 1s")})
	defer stop()

	rec.wait(t, 2) // both run at start
	// Advance one second at a time for 16s. good runs every 2s; bad fails
	// and retries after 1, 2, 4, 8s (its 1s schedule notwithstanding).
	for i := 0; i < 16; i++ {
		clock.idle(t)
		clock.Advance(time.Second)
	}
	clock.idle(t)
	rec.mu.Lock()
	var badAt, goodAt []time.Duration
	for i, c := range rec.calls {
		if c == "bad" {
			badAt = append(badAt, rec.at[i])
		} else {
			goodAt = append(goodAt, rec.at[i])
		}
	}
	rec.mu.Unlock()
	wantBad := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second}
	if !equalDurations(badAt, wantBad) {
		t.Errorf("failing table ran at %v, want %v (exponential backoff)", badAt, wantBad)
	}
	if len(goodAt) != 9 { // 0, 2, 4, ..., 16
		t.Errorf("healthy table ran at %v, want every 2s from 0 to 16s", goodAt)
	}
	var bad server.JobStatus
	for _, j := range s.Status() {
		if j.Table == "bad" {
			bad = j
		}
	}
	if bad.ConsecutiveFailures != 5 || bad.BackoffUntil.IsZero() || bad.NextRun.Sub(rec.start) != 31*time.Second {
		t.Errorf("status of the failing table = %+v; want 5 failures and the next try at +31s", bad)
	}
}

func TestSchedulerYieldsWhenBudgetSpent(t *testing.T) {
	answer := func(table string, n int) litepull.TableResult {
		// "big" has pages left after each of its first three runs.
		return litepull.TableResult{MorePagesAvailable: table == "big" && n <= 3}
	}
	_, _, rec, stop := newScheduler(t, answer,
		server.Job{SourceID: "s", Table: "big", Schedule: mustSchedule(t, "every 1m")},
		server.Job{SourceID: "s", Table: "small", Schedule: mustSchedule(t, "every 1m")})
	defer stop()
	rec.wait(t, 5) // big, small, then big again three times without the clock moving
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{"big", "small", "big", "big", "big"}
	for i, c := range want {
		if rec.calls[i] != c || rec.at[i] != 0 {
			t.Fatalf("runs %v at %v; want %v all at once", rec.calls, rec.at, want)
		}
	}
}

func TestSchedulerCron(t *testing.T) {
	_, clock, rec, stop := newScheduler(t, func(string, int) litepull.TableResult { return litepull.TableResult{} },
		server.Job{SourceID: "s", Table: "t", Schedule: mustSchedule(t, "*/15 * * * *")})
	defer stop()
	rec.wait(t, 1)
	for i := 0; i < 60; i++ { // one hour, a minute at a time
		clock.idle(t)
		clock.Advance(time.Minute)
	}
	clock.idle(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []time.Duration{0, 15 * time.Minute, 30 * time.Minute, 45 * time.Minute, 60 * time.Minute}
	if !equalDurations(rec.at, want) {
		t.Fatalf("cron runs at %v, want %v", rec.at, want)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSchedulerStalledSourceHoldsNoOther: a run that waits on its source
// (a locked table, a stalled network) holds up that source only; the
// tables of other sources keep their schedule.
func TestSchedulerStalledSourceHoldsNoOther(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := &recorder{clock: clock, start: clock.now, count: map[string]int{}, signal: make(chan struct{}, 100),
		answer: func(string, int) litepull.TableResult { return litepull.TableResult{} }}
	stuck := make(chan struct{}, 1)
	run := func(ctx context.Context, opts litepull.RunOptions) (*litepull.Summary, error) {
		if opts.SourceID == "locked" {
			stuck <- struct{}{}
			<-ctx.Done() // waits on its source until the daemon stops
			return nil, ctx.Err()
		}
		return rec.run(ctx, opts)
	}
	s := server.NewScheduler(clock, run, []server.Job{
		{SourceID: "locked", Table: "orders", Schedule: mustSchedule(t, "every 1s")},
		{SourceID: "healthy", Table: "users", Schedule: mustSchedule(t, "every 1s")},
	}, nil)
	s.Jitter = func(time.Duration) time.Duration { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	select {
	case <-stuck:
	case <-time.After(5 * time.Second):
		t.Fatal("the locked source's table never ran")
	}
	rec.wait(t, 1)
	for i := 0; i < 5; i++ {
		clock.idle(t)
		clock.Advance(time.Second)
		rec.wait(t, 1)
	}
	rec.mu.Lock()
	at := append([]time.Duration(nil), rec.at...)
	rec.mu.Unlock()
	if want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}; !equalDurations(at, want) {
		t.Errorf("healthy table ran at %v, want %v while the other source is stalled", at, want)
	}
	for _, j := range s.Status() {
		if j.SourceID == "locked" && !j.Running {
			t.Errorf("status %+v, want the stalled table running", j)
		}
	}
}
