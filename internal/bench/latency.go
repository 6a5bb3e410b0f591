package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// LatencyResult measures how soon a reader of the replica sees a commit:
// from its return to its client to its row's first sighting.
type LatencyResult struct {
	Commits int
	// Writes is from the first paced commit to the last one's return.
	Writes        time.Duration
	P50, P99, Max time.Duration
}

// Rate is the commits per second the clients achieved.
func (r LatencyResult) Rate() float64 { return perSec(r.Commits, r.Writes) }

// Latency commits rate single-row transactions a second for d, spread
// over clients, while the stream runs and a reader polls the replica file
// every millisecond, each in this process: one clock.
func Latency(ctx context.Context, dir, kind, dsn, schema, slot string, rate, clients int, d time.Duration) (LatencyResult, error) {
	k, err := kindOf(kind)
	if err != nil {
		return LatencyResult{}, err
	}
	s, stop, err := startStream(ctx, dir, k, dsn, schema, latencyTable, k.rowColumns, slot)
	if err != nil {
		return LatencyResult{}, err
	}
	defer s.close(ctx)
	res, err := s.latency(ctx, rate, clients, int(float64(rate)*d.Seconds()))
	return res, errors.Join(err, stop())
}

func (s *streamed) latency(ctx context.Context, rate, clients, n int) (LatencyResult, error) {
	conns, c, err := s.warmUp(ctx, clients)
	if err != nil {
		return LatencyResult{}, err
	}
	defer c.Close()
	defer closeAll(ctx, conns)
	committed, seen := make([]time.Time, n+1), make([]time.Time, n+1)
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan error, 1)
	go func() { watched <- watch(watchCtx, c, s.dest, seen) }()

	start := time.Now()
	err = s.writers(ctx, conns, paced(start, rate, n), func(id int64) { committed[id] = time.Now() })
	res := LatencyResult{Commits: n, Writes: time.Since(start)}
	if err != nil {
		return res, err
	}
	select {
	case err = <-watched:
	case <-time.After(time.Minute):
		cancel()
		err = errors.Join(fmt.Errorf("the replica did not show every row a minute after the last commit"), <-watched)
	}
	if err != nil {
		return res, err
	}
	lat := make([]time.Duration, 0, n)
	for id := 1; id <= n; id++ {
		lat = append(lat, seen[id].Sub(committed[id]))
	}
	slices.Sort(lat)
	res.P50, res.P99, res.Max = lat[n/2], lat[n*99/100], lat[n-1]
	return res, nil
}

// paced feeds the ids 1..n, id i at start + i/rate (later if no client is
// free then).
func paced(start time.Time, rate, n int) func(context.Context, chan<- int64) {
	return func(ctx context.Context, out chan<- int64) {
		for id := 1; id <= n; id++ {
			time.Sleep(time.Until(start.Add(time.Duration(id) * time.Second / time.Duration(rate))))
			select {
			case out <- int64(id):
			case <-ctx.Done():
				return
			}
		}
	}
}

// watch polls the replica for rows 1..len(seen)-1 every millisecond, and
// notes when each is first seen, until all are.
func watch(ctx context.Context, c *sqlite3.Conn, dest string, seen []time.Time) error {
	stmt, _, err := c.Prepare("SELECT id FROM " + dest + " WHERE id >= ?")
	if err != nil {
		return err
	}
	defer stmt.Close()
	n := int64(len(seen) - 1)
	for low := int64(1); low <= n; {
		if err := stmt.BindInt64(1, low); err != nil {
			return err
		}
		var now time.Time
		for stmt.Step() {
			if now.IsZero() {
				now = time.Now() // the read began at the first step
			}
			if id := stmt.ColumnInt64(0); id <= n && seen[id].IsZero() {
				seen[id] = now
			}
		}
		if err := stmt.Reset(); err != nil {
			return err
		}
		for low <= n && !seen[low].IsZero() {
			low++
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
