package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/postgres"
)

// streamed is a change stream (changes: logical or binlog) of one table
// of the benchmark schema into a fresh replica: what the stream phases
// measure.
type streamed struct {
	kind  streamKind
	cfg   litepull.SourceConfig
	src   litepull.Source
	r     *replica.Replica
	e     *litepull.Engine
	table string // schema.table, for SQL at the source
	dest  string // the replica's table, quoted
	owned bool   // the phase made the source table: close drops it
}

// openStreamed opens a fresh replica and an engine over a change stream
// of schema.table (see streamKind.config for slot).
func openStreamed(dir string, k streamKind, dsn, schema, table, slot string, pageSize int) (*streamed, error) {
	cfg := k.config(dsn, schema, slot, pageSize, table)
	c := litepull.Config{Replica: "unused.db", Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg = c.Sources[0]
	r, err := freshReplica(dir)
	if err != nil {
		return nil, err
	}
	src, err := k.source(cfg)
	if err != nil {
		r.Close()
		return nil, err
	}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	return &streamed{kind: k, cfg: cfg, src: src, r: r, e: e, table: schema + "." + table, dest: litepull.QuoteIdent(table, '"')}, nil
}

// startStream makes schema.table at the source (columns: its column list
// in parentheses), copies it, empty, into a fresh replica, and follows its
// stream until stop.
func startStream(ctx context.Context, dir string, k streamKind, dsn, schema, table, columns, slot string) (s *streamed, stop func() error, err error) {
	t := schema + "." + table
	if err := k.execAll(ctx, dsn, "DROP TABLE IF EXISTS "+t, "CREATE TABLE "+t+" "+columns); err != nil {
		return nil, nil, err
	}
	if s, err = openStreamed(dir, k, dsn, schema, table, slot, 0); err != nil {
		k.execAll(context.WithoutCancel(ctx), dsn, "DROP TABLE IF EXISTS "+t)
		return nil, nil, err
	}
	s.owned = true
	if _, err = s.drain(ctx, nil); err == nil {
		stop, err = s.follow(ctx)
	}
	if err != nil {
		s.close(ctx)
		return nil, nil, err
	}
	return s, stop, nil
}

func (s *streamed) close(ctx context.Context) {
	s.src.Close()
	s.r.Close()
	if s.owned {
		s.kind.execAll(context.WithoutCancel(ctx), s.cfg.DSN, "DROP TABLE IF EXISTS "+s.table)
	}
}

// drain copies what needs copying and applies the stream up to the
// source's position at the start, as litepull run -drain does; progress,
// if set, is called after each page a copy writes.
func (s *streamed) drain(ctx context.Context, progress func(litepull.Progress)) (*litepull.Summary, error) {
	sum, err := s.e.Run(ctx, litepull.RunOptions{Drain: true, Progress: progress})
	if err != nil {
		return nil, err
	}
	if sum.Failed() > 0 {
		return nil, sum.Tables[0].Err
	}
	return sum, nil
}

// follow streams in a goroutine, as litepull serve does, from the moment
// the server streams to the slot; stop ends it.
func (s *streamed) follow(ctx context.Context) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	var followErr error
	go func() {
		defer close(ended)
		_, followErr = s.e.Follow(ctx, s.cfg.ID)
	}()
	stop = func() error {
		select {
		case <-ended:
			return fmt.Errorf("the stream ended early: %w", followErr)
		default:
		}
		cancel()
		<-ended // ended by the cancel: what it returns says only that
		return nil
	}
	if err := s.waitActive(ctx, ended); err != nil {
		return nil, errors.Join(err, stop())
	}
	return stop, nil
}

// waitActive waits until a server process streams from the slot, or the
// stream ends first. A binlog stream has no slot to ask about: it starts
// where the drain before it ended, so what is committed before it connects
// is applied all the same, only later (each phase waits for a first row).
func (s *streamed) waitActive(ctx context.Context, ended <-chan struct{}) error {
	if s.kind.name == "mysql" {
		return nil
	}
	slot := s.cfg.Slot
	conn, err := pgx.Connect(ctx, s.cfg.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for {
		var active bool
		err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if active {
			return nil
		}
		select {
		case <-ended:
			return errors.New("wait for the stream to start")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// DropStream removes a stream phase's slot and publication, once the
// process that streamed from it has let go: a slot left behind would keep
// the source's WAL forever. Absent ones are not an error. A binlog stream
// (kind mysql) leaves nothing behind.
func DropStream(ctx context.Context, kind, dsn, schema, slot string) error {
	if kind == "mysql" {
		return nil
	}
	src, err := postgres.New(pgKind.config(dsn, schema, slot, 0))
	if err != nil {
		return err
	}
	defer src.Close()
	opts := litepull.ChangeOptions{Slot: slot, Publication: slot}
	for i := 0; ; i++ {
		err = src.DropChanges(ctx, opts)
		if err == nil || i == 100 || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // an ended stream's server process may take a moment to go
	}
}

// reader is a read-only connection of its own to the replica file, as a
// reader of the replica in another process has.
func (s *streamed) reader() (*sqlite3.Conn, error) { return sqlitex.OpenReadOnly(s.r.Path()) }

// waitRow polls q on c every poll until it returns a row, and returns when
// it first did.
func waitRow(ctx context.Context, c *sqlite3.Conn, q string, poll time.Duration, args ...any) (time.Time, error) {
	stmt, _, err := c.Prepare(q)
	if err != nil {
		return time.Time{}, err
	}
	defer stmt.Close()
	for {
		if err := sqlitex.BindAll(stmt, args...); err != nil {
			return time.Time{}, err
		}
		found := stmt.Step()
		now := time.Now()
		if err := stmt.Reset(); err != nil {
			return time.Time{}, err
		}
		if found {
			return now, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}
