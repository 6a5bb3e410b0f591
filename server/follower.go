package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/litepull/litepull"
)

// HealthySession is how long a change stream session must have run for
// its failure to count as a first one: the backoff starts again from
// BackoffBase, instead of doubling on from the failures before it.
const HealthySession = time.Minute

// errSessionEnded stands for a session that ended, its context alive,
// without saying why.
var errSessionEnded = errors.New("the change stream ended without an error")

// FollowFunc streams a source's changes into the replica until ctx ends or
// the stream fails, and returns its tables' results (Engine.Follow in
// production).
type FollowFunc func(ctx context.Context, sourceID string) ([]litepull.TableResult, error)

// FollowerStatus is where a source's follower stands, for the status
// endpoint and metrics.
type FollowerStatus struct {
	SourceID string `json:"sourceId"`
	// Following says a session is open; Since, when it began.
	Following bool      `json:"following"`
	Since     time.Time `json:"followingSince,omitzero"`
	// ConsecutiveFailures counts the sessions that failed in a row;
	// BackoffUntil is when the next one begins, after a failure.
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	BackoffUntil        time.Time `json:"backoffUntil,omitzero"`
	LastError           string    `json:"lastError,omitempty"`
}

// Follower keeps one source's change stream running for the daemon's
// lifetime: a session that fails is logged and, after a backoff, followed
// by the next one (which resumes where the replica stands). Sources with
// changes: logical have followers instead of scheduler jobs.
type Follower struct {
	clock    Clock
	follow   FollowFunc
	sourceID string
	logger   *slog.Logger
	// OnSummary, if set, sees every session's results when it ends
	// (metrics).
	OnSummary func(*litepull.Summary)

	mu sync.Mutex
	st FollowerStatus
}

// NewFollower makes a follower of one source.
func NewFollower(clock Clock, follow FollowFunc, sourceID string, logger *slog.Logger) *Follower {
	if clock == nil {
		clock = realClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Follower{clock: clock, follow: follow, sourceID: sourceID, logger: logger,
		st: FollowerStatus{SourceID: sourceID}}
}

// Run follows the source until ctx ends. The first session begins at
// once; after a failed one the next waits BackoffBase, twice as long after
// each further failure, up to BackoffCap, and from BackoffBase again once a
// session has run for HealthySession.
func (f *Follower) Run(ctx context.Context) {
	for {
		ran, err := f.session(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := f.failed(err, ran)
		select {
		case <-f.clock.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// session runs one session and hands its results to OnSummary.
func (f *Follower) session(ctx context.Context) (time.Duration, error) {
	start := f.clock.Now()
	f.mu.Lock()
	f.st.Following, f.st.Since, f.st.BackoffUntil = true, start, time.Time{}
	f.mu.Unlock()
	res, err := f.follow(ctx, f.sourceID)
	ran := f.clock.Now().Sub(start)
	f.mu.Lock()
	f.st.Following, f.st.Since = false, time.Time{}
	f.mu.Unlock()
	if f.OnSummary != nil && len(res) > 0 {
		sum := &litepull.Summary{Tables: append([]litepull.TableResult(nil), res...), Duration: ran}
		for i := range sum.Tables {
			if sum.Tables[i].Duration == 0 {
				sum.Tables[i].Duration = ran // a streamed table's run is its session
			}
		}
		f.OnSummary(sum)
	}
	if err == nil {
		err = errSessionEnded
	}
	return ran, err
}

// failed records a failed session and returns how long to wait before the
// next. A session ended by a change of its tables at the source is no
// failure.
func (f *Follower) failed(err error, ran time.Duration) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errors.Is(err, litepull.ErrStreamChanged) {
		// Planned: the next session mends the publication and copies
		// what the stream lacked. It waits a moment, so that a
		// publication changed again and again cannot spin it.
		f.st.BackoffUntil = f.clock.Now().Add(BackoffBase)
		f.logger.Info("the change stream's tables changed at the source; following it anew", litepull.LogKeySource, f.sourceID,
			"why", err, "retryAt", f.st.BackoffUntil)
		return BackoffBase
	}
	if ran >= HealthySession {
		f.st.ConsecutiveFailures = 0
	}
	f.st.ConsecutiveFailures++
	wait := min(BackoffBase<<min(f.st.ConsecutiveFailures-1, 20), BackoffCap)
	f.st.BackoffUntil = f.clock.Now().Add(wait)
	f.st.LastError = err.Error()
	f.logger.Error("change stream failed; following it again after a backoff", litepull.LogKeySource, f.sourceID,
		litepull.LogKeyError, err, "failures", f.st.ConsecutiveFailures, "retryAt", f.st.BackoffUntil, "ran", ran.Round(time.Millisecond))
	return wait
}

// Status says where the follower stands.
func (f *Follower) Status() FollowerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
