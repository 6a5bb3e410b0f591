package litepull_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/source/sqlite"
)

// fakeChanges is a change source over a SQLite file: each transaction
// written through it is applied to the file and logged as the events a
// Postgres stream would send. Transaction i begins (commits) at position
// 2i and ends at 2i+1; a snapshot taken after n transactions is at 2n.
// Snapshots are copies of the file (VACUUM INTO).
type fakeChanges struct {
	*sqlite.Source
	tb   testing.TB
	path string
	cols map[string][]string // per table, its columns

	mu         sync.Mutex
	log        [][]litepull.ChangeEvent
	confirmed  int64
	snaps      int
	opened     int
	lost       bool     // OpenChanges fails with ErrStreamLost until DropChanges
	joined     []string // the next stream opened says these joined it
	statusErr  error    // what Status says
	snapErr    error    // what Snapshot fails with
	onSnapshot func()   // called as Snapshot begins
	breakAt    int      // a stream's breakAt-th event is, once, a broken connection instead
	stall      fakeStall
	status     litepull.StreamStatus // what Status says, Current aside
	onAck      func(litepull.Position)
	resumeErr  error // what Resumable fails with: it could not check
	// currentCalls and sampleCalls count the calls of Current and of
	// SamplePosition.
	currentCalls, sampleCalls int
}

// fakeStall holds a stream back, as a walsender busy decoding a backlog
// does, while the source moves on.
type fakeStall int

const (
	// stallBefore sends only keepalives at the position before the next
	// transaction.
	stallBefore fakeStall = iota + 1
	// stallInside sends the next transaction's begin and first change,
	// then nothing (a large transaction being read).
	stallInside
)

func (f *fakeChanges) setStall(s fakeStall) {
	f.mu.Lock()
	f.stall = s
	f.mu.Unlock()
}

func newFakeChanges(tb testing.TB, schema string, cols map[string][]string) *fakeChanges {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "src.db")
	mustExec(path, schema)
	src, err := sqlite.New(litepull.SourceConfig{ID: "pg", Kind: "sqlite", DSN: path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return &fakeChanges{Source: src, tb: tb, path: path, cols: cols}
}

// fakeOp is one statement of a fake transaction and the event it sends.
type fakeOp struct {
	sql string
	ev  litepull.ChangeEvent
}

func ins(table string, row ...litepull.Value) fakeOp {
	return fakeOp{sql: fmt.Sprintf("INSERT INTO %s VALUES (%s)", table, literals(row)),
		ev: litepull.ChangeEvent{Kind: litepull.ChangeInsert, Table: table, Row: row}}
}

// upd rewrites the row with key old (in the first column) as row.
func upd(table string, cols []string, old litepull.Value, row ...litepull.Value) fakeOp {
	set := ""
	for i, c := range cols {
		if _, keep := row[i].(litepull.Keep); keep {
			continue
		}
		if set != "" {
			set += ", "
		}
		set += c + " = " + literals(row[i:i+1])
	}
	ev := litepull.ChangeEvent{Kind: litepull.ChangeUpdate, Table: table, Row: row}
	if old != row[0] {
		ev.Old = make([]litepull.Value, len(row))
		ev.Old[0] = old
	}
	return fakeOp{sql: fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s", table, set, cols[0], literals([]litepull.Value{old})), ev: ev}
}

func del(table string, cols []string, key litepull.Value) fakeOp {
	old := make([]litepull.Value, len(cols))
	old[0] = key
	return fakeOp{sql: fmt.Sprintf("DELETE FROM %s WHERE %s = %s", table, cols[0], literals(old[:1])),
		ev: litepull.ChangeEvent{Kind: litepull.ChangeDelete, Table: table, Old: old}}
}

// relation sends table's shape as it is after the transaction's SQL.
func relation(table string) fakeOp {
	return fakeOp{sql: "SELECT 1", ev: litepull.ChangeEvent{Kind: litepull.ChangeRelation, Table: table}}
}

func trunc(table string) fakeOp {
	return fakeOp{sql: "DELETE FROM " + table, ev: litepull.ChangeEvent{Kind: litepull.ChangeTruncate, Tables: []string{table}}}
}

func literals(vals []litepull.Value) string {
	out := ""
	for i, v := range vals {
		if i > 0 {
			out += ", "
		}
		switch v := v.(type) {
		case nil:
			out += "NULL"
		case string:
			out += "'" + v + "'"
		default:
			out += fmt.Sprint(v)
		}
	}
	return out
}

// commit applies ops as one transaction and logs its events.
func (f *fakeChanges) commit(ops ...fakeOp) {
	f.tb.Helper()
	sql := "BEGIN;"
	for _, op := range ops {
		sql += op.sql + ";"
	}
	f.mu.Lock() // the file and the log change together, as a snapshot sees them
	defer f.mu.Unlock()
	mustExec(f.path, sql+"COMMIT;")
	i := int64(len(f.log))
	now := time.Now()
	evs := []litepull.ChangeEvent{{Kind: litepull.ChangeBegin, Position: pos(2 * i), Time: now}}
	for _, op := range ops {
		ev := op.ev
		ev.Columns = f.cols[ev.Table]
		if ev.Kind == litepull.ChangeRelation {
			schema, err := f.Source.Describe(context.Background(), ev.Table)
			if err != nil {
				f.tb.Fatal(err)
			}
			ev.Schema = schema
		}
		evs = append(evs, ev)
	}
	f.log = append(f.log, append(evs, litepull.ChangeEvent{Kind: litepull.ChangeCommit, Position: pos(2*i + 1), Time: now}))
}

func pos(n int64) litepull.Position { return litepull.Position(strconv.FormatInt(n, 10)) }

func num(p litepull.Position) int64 {
	n, err := strconv.ParseInt(string(p), 10, 64)
	if err != nil && p != "" {
		panic(err)
	}
	return n
}

func (f *fakeChanges) OpenChanges(ctx context.Context, opts litepull.ChangeOptions) (litepull.ChangeStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost {
		return nil, fmt.Errorf("slot %s: %w", opts.Slot, litepull.ErrStreamLost)
	}
	f.opened++
	joined := f.joined
	f.joined = nil
	return &fakeStream{f: f, joined: joined}, nil
}

func (f *fakeChanges) DropChanges(ctx context.Context, opts litepull.ChangeOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed = 2 * int64(len(f.log)) // a new slot starts now
	f.lost = false
	return nil
}

// fakeStream streams the log from a position.
type fakeStream struct {
	f      *fakeChanges
	joined []string
	next   int // the next transaction to send
	queue  []litepull.ChangeEvent
	sent   int
	inTx   int // events of the current transaction sent
}

func (s *fakeStream) Snapshot(ctx context.Context) (*litepull.Snapshot, error) {
	s.f.mu.Lock()
	if s.f.snapErr != nil {
		s.f.mu.Unlock()
		return nil, s.f.snapErr
	}
	if hook := s.f.onSnapshot; hook != nil {
		s.f.mu.Unlock()
		hook()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.f.mu.Lock()
	}
	defer s.f.mu.Unlock()
	n := int64(len(s.f.log))
	s.f.snaps++
	copyPath := filepath.Join(s.f.tb.TempDir(), fmt.Sprintf("snap%d.db", s.f.snaps))
	c, err := sqlite3.Open(s.f.path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.BusyTimeout(10 * time.Second); err != nil {
		return nil, err
	}
	if err := c.Exec("VACUUM INTO '" + copyPath + "'"); err != nil {
		return nil, err
	}
	r, err := sqlite.New(litepull.SourceConfig{ID: "snap", Kind: "sqlite", DSN: copyPath})
	if err != nil {
		return nil, err
	}
	return &litepull.Snapshot{Position: pos(2 * n), Reader: r, Close: r.Close}, nil
}

func (s *fakeStream) Current(context.Context) (litepull.Position, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.currentCalls++
	return pos(2 * int64(len(s.f.log))), nil
}

// SamplePosition is Current, counted apart (litepull.PositionSampler).
func (s *fakeStream) SamplePosition(context.Context) (litepull.Position, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.sampleCalls++
	return pos(2 * int64(len(s.f.log))), nil
}

// calls reads the counts of Current and SamplePosition calls.
func (f *fakeChanges) calls() (current, sample int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.currentCalls, f.sampleCalls
}

func (s *fakeStream) Confirmed(context.Context) (litepull.Position, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return pos(s.f.confirmed), nil
}

func (s *fakeStream) Resumable(ctx context.Context, p litepull.Position) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.f.resumeErr != nil {
		return s.f.resumeErr
	}
	if s.f.confirmed > num(p) {
		return litepull.StreamLost(fmt.Errorf("the fake slot is at %d, past %s", s.f.confirmed, p))
	}
	return nil
}

func (s *fakeStream) Start(ctx context.Context, from litepull.Position) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	start := max(num(from), s.f.confirmed)
	s.next = int((start + 1) / 2) // the first transaction that begins at or after start
	return nil
}

func (s *fakeStream) Next(ctx context.Context) (litepull.ChangeEvent, error) {
	for len(s.queue) == 0 {
		s.f.mu.Lock()
		if s.next < len(s.f.log) && s.f.stall != stallBefore {
			s.queue = append(s.queue, s.f.log[s.next]...)
			s.next++
			s.inTx = 0
		} else {
			ka := litepull.ChangeEvent{Kind: litepull.ChangeKeepalive, Position: pos(2 * int64(s.next))}
			s.f.mu.Unlock()
			select {
			case <-ctx.Done():
				return litepull.ChangeEvent{}, ctx.Err()
			case <-time.After(time.Millisecond):
				return ka, nil
			}
		}
		s.f.mu.Unlock()
	}
	for {
		s.f.mu.Lock()
		if s.f.stall != stallInside || s.inTx < 2 {
			break
		}
		s.f.mu.Unlock()
		select {
		case <-ctx.Done():
			return litepull.ChangeEvent{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	defer s.f.mu.Unlock()
	if s.sent++; s.sent == s.f.breakAt {
		s.f.breakAt = 0
		return litepull.ChangeEvent{}, errors.New("change stream: connection reset by peer")
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	s.inTx++
	return ev, nil
}

func (s *fakeStream) Ack(ctx context.Context, p litepull.Position) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.f.onAck != nil {
		s.f.onAck(p)
	}
	s.f.confirmed = max(s.f.confirmed, num(p))
	return nil
}

func (s *fakeStream) Joined() []string { return s.joined }

func (s *fakeStream) Includes(at, commit litepull.Position) bool { return num(commit) < num(at) }

func (s *fakeStream) Status(context.Context) (litepull.StreamStatus, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	st := s.f.status
	st.Current = pos(2 * int64(len(s.f.log)))
	return st, s.f.statusErr
}

func (s *fakeStream) Close() error { return nil }
