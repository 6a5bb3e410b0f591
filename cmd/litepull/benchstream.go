package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/litepull/litepull/internal/bench"
)

// streamSummary holds each measure's range over the rounds.
type streamSummary struct {
	snapshot, snapshotCopy, bigTx, bigRSS, live, source, backlog, lag, p50, p99 span
}

// span is the range of one measure over the rounds.
type span struct {
	lo, hi float64
	n      int
}

func (s *span) add(v float64) {
	if s.n == 0 || v < s.lo {
		s.lo = v
	}
	if s.n == 0 || v > s.hi {
		s.hi = v
	}
	s.n++
}

// format renders the range with verb, one value if all rounds agree.
func (s span) format(verb string) string {
	lo, hi := fmt.Sprintf(verb, s.lo), fmt.Sprintf(verb, s.hi)
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

// benchStream measures change streams against polling, -rounds times, each
// phase in a child process with a slot of its own, dropped after.
func benchStream(ctx context.Context, f *benchFlags, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, changes: %s, page size %d, %d round(s)\n", f.kind, changes(f), f.page, f.rounds)
	var sum streamSummary
	for round := 1; round <= f.rounds; round++ {
		fmt.Fprintf(stdout, "\nround %d\n", round)
		if err := streamLoads(ctx, f, exe, round, &sum, stdout, stderr); err != nil {
			return err
		}
		if err := streamCommits(ctx, f, exe, round, &sum, stdout, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nover %d round(s):\n", f.rounds)
	fmt.Fprintf(stdout, "  snapshot copy / polling load:          %s (target >= 0.8); after the setup of each: %s\n", sum.snapshot.format("%.2f"), sum.snapshotCopy.format("%.2f"))
	fmt.Fprintf(stdout, "  one-transaction apply / polling load:  %s (target >= 0.8), peak RSS %s MB\n", sum.bigTx.format("%.2f"), sum.bigRSS.format("%.0f"))
	fmt.Fprintf(stdout, "  single-row commits applied while streaming: %s/s (target >= 5000; the source committed %s/s, the last visible %s ms after the last commit)\n",
		sum.live.format("%.0f"), sum.source.format("%.0f"), sum.lag.format("%.0f"))
	fmt.Fprintf(stdout, "  single-row commits applied from a backlog:  %s/s\n", sum.backlog.format("%.0f"))
	fmt.Fprintf(stdout, "  commit to visible: p50 %s ms (target < 50), p99 %s ms (target < 250)\n", sum.p50.format("%.1f"), sum.p99.format("%.1f"))
	return nil
}

// streamLoads measures a polling load, a snapshot copy of the same table,
// and one transaction of as many rows, streamed.
func streamLoads(ctx context.Context, f *benchFlags, exe string, round int, sum *streamSummary, stdout, stderr io.Writer) error {
	poll, rss, err := benchChild[bench.Result](ctx, exe, f.childArgs("replicate"), stderr)
	if err != nil {
		return fmt.Errorf("replicate phase: %w", err)
	}
	loadLine(stdout, "polling: full load (drain)", poll, rss, 0)
	snap, rss, err := streamChild[bench.Result](ctx, f, exe, "snapshot", round, stderr)
	if err != nil {
		return err
	}
	loadLine(stdout, changes(f)+": snapshot copy (first drain)", snap, rss, poll.RowsPerSec())
	sum.snapshot.add(snap.RowsPerSec() / poll.RowsPerSec())
	sum.snapshotCopy.add(snap.CopyRowsPerSec() / poll.CopyRowsPerSec())
	big, rss, err := streamChild[bench.Result](ctx, f, exe, "bigtx", round, stderr)
	if err != nil {
		return err
	}
	loadLine(stdout, changes(f)+": one transaction, commit to visible", big, rss, poll.RowsPerSec())
	sum.bigTx.add(big.RowsPerSec() / poll.RowsPerSec())
	sum.bigRSS.add(mb(rss))
	return nil
}

// changes is the kind of change stream measured: logical or binlog.
func changes(f *benchFlags) string {
	if f.kind == "mysql" {
		return "binlog"
	}
	return "logical"
}

func loadLine(w io.Writer, label string, res bench.Result, rss int64, poll float64) {
	fmt.Fprintf(w, "  %-44s %9.0f rows/s  %6.2fs  peak RSS %5.1f MB", label, res.RowsPerSec(), res.Duration.Seconds(), mb(rss))
	if poll > 0 {
		fmt.Fprintf(w, "  %.2f x polling", res.RowsPerSec()/poll)
	}
	if res.Setup > 0 {
		fmt.Fprintf(w, "  (setup %.2fs)", res.Setup.Seconds())
	}
	fmt.Fprintln(w)
}

// streamCommits measures single-row commits: applied while streaming and
// from a backlog, and their commit-to-visible latency at a paced rate.
func streamCommits(ctx context.Context, f *benchFlags, exe string, round int, sum *streamSummary, stdout, stderr io.Writer) error {
	c, rss, err := streamChild[bench.CommitsResult](ctx, f, exe, "commits", round, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %d single-row commits from %d clients%s: source %.0f/s, applied %.0f/s (last visible %.0f ms after the last commit); a backlog of as many applied at %.0f/s; peak RSS %.1f MB\n",
		c.Commits, c.Clients, map[string]string{"postgres": " (asynchronous commit)"}[f.kind], c.SourceRate(), c.AppliedRate(), ms(c.Lag()), c.BacklogRate(), mb(rss))
	sum.live.add(c.AppliedRate())
	sum.source.add(c.SourceRate())
	sum.lag.add(ms(c.Lag()))
	sum.backlog.add(c.BacklogRate())
	l, rss, err := streamChild[bench.LatencyResult](ctx, f, exe, "latency", round, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  commit to visible, %d commits at %.0f/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms; peak RSS %.1f MB\n",
		l.Commits, l.Rate(), ms(l.P50), ms(l.P99), ms(l.Max), mb(rss))
	sum.p50.add(ms(l.P50))
	sum.p99.add(ms(l.P99))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// streamChild runs a stream phase in a child process with a slot and
// publication of its own (postgres; mysql: a binlog server id of its own),
// and drops them after, however the child ended: a slot left behind keeps
// the source's WAL forever.
func streamChild[T any](ctx context.Context, f *benchFlags, exe, phase string, round int, stderr io.Writer) (T, int64, error) {
	slot := fmt.Sprintf("%s_%d_%s_%d", benchSchema, os.Getpid(), phase, round)
	res, rss, err := benchChild[T](ctx, exe, append(f.childArgs(phase), "-slot", slot), stderr)
	if derr := bench.DropStream(context.WithoutCancel(ctx), f.kind, f.dsn(), benchSchema, slot); derr != nil {
		err = errors.Join(err, fmt.Errorf("drop replication slot %s: %w", slot, derr))
	}
	if err != nil {
		return res, rss, fmt.Errorf("%s phase: %w", phase, err)
	}
	return res, rss, nil
}
