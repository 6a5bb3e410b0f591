package server

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/litepull/litepull"
)

// Clock is the scheduler's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backoff bounds for a failing table: the first retry waits BackoffBase,
// each further one twice as long, up to BackoffCap. A retry never comes
// sooner than the table's own schedule.
const (
	BackoffBase = time.Second
	BackoffCap  = 5 * time.Minute
)

// Job is one scheduled table (or, for a source whose tables could not be
// discovered at start, the whole source: Table "").
type Job struct {
	SourceID string
	Table    string
	Schedule litepull.Schedule
	Budget   time.Duration
	Pages    int
}

// JobStatus is a job's schedule state, for the status endpoint.
type JobStatus struct {
	SourceID            string    `json:"sourceId"`
	Table               string    `json:"table"`
	Schedule            string    `json:"schedule"`
	NextRun             time.Time `json:"nextRunTs"`
	Running             bool      `json:"running"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	BackoffUntil        time.Time `json:"backoffUntil,omitzero"`
}

type jobState struct {
	Job
	next     time.Time
	started  time.Time // last run's start, for fairness between jobs due at once
	running  bool
	failures int
	backoff  time.Time
}

// RunFunc runs the engine (Engine.Run in production).
type RunFunc func(context.Context, litepull.RunOptions) (*litepull.Summary, error)

// Scheduler runs jobs when they are due. The jobs of one source run one at
// a time, in a lane of their own: a due job drains its table up to its
// budget, then yields to the source's next due job; a table with pages
// left is due again at once. Lanes run side by side, so that a source that
// stalls (a locked table, a dead network) holds up none of the others; the
// replica's one writer is taken for each commit only, never while a run
// waits on its source.
type Scheduler struct {
	clock  Clock
	run    RunFunc
	logger *slog.Logger
	// Jitter returns a random delay added to a scheduled run, at most a
	// tenth of the gap before it (and 30s), so that many tables on one
	// schedule do not start in the same instant.
	Jitter func(gap time.Duration) time.Duration
	// OnSummary, if set, sees every run's summary (metrics).
	OnSummary func(*litepull.Summary)

	mu   sync.Mutex
	jobs []*jobState
}

// NewScheduler makes a scheduler over jobs.
func NewScheduler(clock Clock, run RunFunc, jobs []Job, logger *slog.Logger) *Scheduler {
	if clock == nil {
		clock = realClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{clock: clock, run: run, logger: logger, Jitter: defaultJitter}
	for _, j := range jobs {
		s.jobs = append(s.jobs, &jobState{Job: j})
	}
	return s
}

func defaultJitter(gap time.Duration) time.Duration {
	max := min(gap/10, 30*time.Second)
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// Run runs due jobs until ctx ends, each source's in its own lane. The
// first run of every job is due at once (plus jitter): a daemon that
// starts catches up.
func (s *Scheduler) Run(ctx context.Context) {
	now := s.clock.Now()
	lanes := map[string][]*jobState{}
	var order []string
	s.mu.Lock()
	for _, j := range s.jobs {
		j.next = now.Add(s.Jitter(j.Schedule.Next(now).Sub(now)))
		if _, ok := lanes[j.SourceID]; !ok {
			order = append(order, j.SourceID)
		}
		lanes[j.SourceID] = append(lanes[j.SourceID], j)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range order {
		wg.Add(1)
		go func(jobs []*jobState) {
			defer wg.Done()
			s.runLane(ctx, jobs)
		}(lanes[id])
	}
	wg.Wait()
	<-ctx.Done() // no jobs: nothing to do until the end
}

// runLane runs one source's jobs, one at a time, until ctx ends.
func (s *Scheduler) runLane(ctx context.Context, jobs []*jobState) {
	for {
		j := s.due(jobs)
		if d := j.next.Sub(s.clock.Now()); d > 0 {
			select {
			case <-s.clock.After(d):
			case <-ctx.Done():
				return
			}
			continue // re-pick: the earliest job may have changed
		}
		s.runJob(ctx, j)
		if ctx.Err() != nil {
			return
		}
	}
}

// due returns the job with the earliest next run; among jobs due at the
// same time, the one that started longest ago, so that a table that keeps
// yielding with pages left cannot starve the others.
func (s *Scheduler) due(jobs []*jobState) *jobState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *jobState
	for _, j := range jobs {
		if best == nil || j.next.Before(best.next) || (j.next.Equal(best.next) && j.started.Before(best.started)) {
			best = j
		}
	}
	return best
}

func (s *Scheduler) runJob(ctx context.Context, j *jobState) {
	s.mu.Lock()
	j.running = true
	j.started = s.clock.Now()
	s.mu.Unlock()
	sum, err := s.run(ctx, litepull.RunOptions{SourceID: j.SourceID, Table: j.Table, Drain: true,
		MaxPages: j.Pages, Deadline: time.Now().Add(j.Budget)})
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	j.running = false
	if ctx.Err() != nil {
		return // shutting down: nothing to learn from this run
	}
	if sum != nil && s.OnSummary != nil {
		s.OnSummary(sum)
	}
	failed, more := err != nil, false
	if sum != nil {
		failed = failed || sum.Failed() > 0
		more = sum.MorePagesAvailable()
	}
	switch {
	case failed:
		j.failures++
		wait := min(BackoffBase<<min(j.failures-1, 20), BackoffCap)
		j.backoff = now.Add(wait)
		j.next = j.Schedule.Next(now)
		if j.next.Before(j.backoff) {
			j.next = j.backoff
		}
		s.logger.Warn("scheduled run failed; backing off", litepull.LogKeySource, j.SourceID, litepull.LogKeyTable, j.Table,
			"failures", j.failures, "retryAt", j.next)
	case more:
		j.failures, j.backoff = 0, time.Time{}
		j.next = now // budget spent with pages left: due again once the others due had their turn
	default:
		j.failures, j.backoff = 0, time.Time{}
		next := j.Schedule.Next(now)
		j.next = next.Add(s.Jitter(next.Sub(now)))
	}
}

// Status lists every job, by source and table.
func (s *Scheduler) Status() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobStatus, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, JobStatus{SourceID: j.SourceID, Table: j.Table, Schedule: j.Schedule.String(), NextRun: j.next,
			Running: j.running, ConsecutiveFailures: j.failures, BackoffUntil: j.backoff})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].SourceID != out[b].SourceID {
			return out[a].SourceID < out[b].SourceID
		}
		return out[a].Table < out[b].Table
	})
	return out
}
