package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

var (
	_ litepull.ChangeSource  = (*Source)(nil)
	_ litepull.ChangeChecker = (*Source)(nil)
)

// heartbeatEvery is how often a caught-up server says where its binlog
// stands (a heartbeat event): the stream's keepalives, and how a silent
// server is told from a dead one within the read timeout.
const heartbeatEvery = time.Second

// OpenChanges checks that the server writes a binlog the stream can read
// (log_bin, binlog_format = ROW, binlog_row_image = FULL), that the user
// may read it, and that each table exists and has a key, and describes
// the tables. A binlog reader makes nothing at the server: the stream
// starts with Start.
func (s *Source) OpenChanges(ctx context.Context, opts litepull.ChangeOptions) (litepull.ChangeStream, error) {
	if err := checkChangeOptions(opts); err != nil {
		return nil, err
	}
	info, err := s.checkServer(ctx)
	if err != nil {
		return nil, err
	}
	tables, err := s.streamTables(ctx, opts.Tables, info.foldCase)
	if err != nil {
		return nil, err
	}
	st := &binlogStream{src: s, opts: opts, server: info, tables: map[[2]string]*binlogTable{}, lockSnapshot: !info.mariadb}
	for _, t := range tables {
		bt := &binlogTable{name: t.name, schema: t.schema, table: t.table}
		if err := st.describe(ctx, bt); err != nil {
			return nil, err
		}
		st.tables[tableKey(t.schema, t.table, info.foldCase)] = bt
	}
	return st, nil
}

// CheckChanges checks what OpenChanges checks: the binlog's settings, the
// user's privileges and the tables.
func (s *Source) CheckChanges(ctx context.Context, opts litepull.ChangeOptions) error {
	if err := checkChangeOptions(opts); err != nil {
		return err
	}
	info, err := s.checkServer(ctx)
	if err != nil {
		return err
	}
	_, err = s.streamTables(ctx, opts.Tables, info.foldCase)
	return err
}

// DropChanges drops nothing: a binlog reader makes nothing at the server
// (no slot: the server keeps its binlog for its own retention time, for
// every reader alike).
func (s *Source) DropChanges(context.Context, litepull.ChangeOptions) error { return nil }

func checkChangeOptions(opts litepull.ChangeOptions) error {
	if opts.ServerID == 0 {
		return errors.New("binlog server id 0: set serverId to a number unique among the source's replicas and binlog readers")
	}
	if len(opts.Tables) == 0 {
		return errors.New("stream the binlog: no tables")
	}
	return nil
}

// binlogStream is a change stream read from a server's binlog, as a
// replica reads it.
type binlogStream struct {
	src    *Source
	opts   litepull.ChangeOptions
	server serverInfo
	tables map[[2]string]*binlogTable // by tableKey of the server's names
	// lockSnapshot: snapshots find their position under a global read
	// lock (MySQL), not from the snapshot itself (MariaDB).
	lockSnapshot bool

	syncer *replication.BinlogSyncer // after Start
	events *replication.BinlogStreamer
	stalls int64 // the source's stalled connections when the stream started
	err    error // the error that ended the stream
	closed bool

	pos   binlogPos // the end of the last event read
	acked binlogPos
	// inexact: the stream started by GTID from from, a position of another
	// server, and has not yet reached a transaction, so where it stands in
	// this server's binlog is not known: keepalives say from.
	from    binlogPos
	inexact bool

	// The event group (a transaction, or a statement of its own) being
	// read.
	inGroup  bool
	sawBegin bool      // it is a transaction (a BEGIN, or a MariaDB GTID that says so)
	begun    bool      // its ChangeBegin was returned: it touched a streamed table
	start    binlogPos // where its first event starts
	began    time.Time
	gtid     string // the GTID state after it, if its GTID is known

	queue []litepull.ChangeEvent
	// pending is an event whose handling stopped on the caller's
	// deadline, handled again by the next Next.
	pending *replication.BinlogEvent
}

// syncerConfig is the binlog reader's connection: the DSN's address, user
// and TLS, the source's connect and read timeouts, and no reconnection
// (the engine resumes a broken stream from what the replica holds).
func (s *Source) syncerConfig(serverID uint32, mariadb bool) (replication.BinlogSyncerConfig, error) {
	read := s.dialer.Idle
	cfg := replication.BinlogSyncerConfig{
		ServerID: serverID, Flavor: gomysql.MySQLFlavor, User: s.dsn.User, Password: s.dsn.Passwd, TLSConfig: s.dsn.TLS,
		HeartbeatPeriod: max(min(heartbeatEvery, read/3), 10*time.Millisecond), ReadTimeout: read, DisableRetrySync: true,
		Logger: slog.New(slog.DiscardHandler),
		// Decoded events the reader may hold ahead of the engine: go-mysql's
		// default, 10,240, held about 600 MB of one large transaction.
		EventCacheCount: 256,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, s.connect)
			defer cancel()
			return s.dialer.DialContext(ctx, network, addr)
		},
	}
	if mariadb {
		cfg.Flavor = gomysql.MariaDBFlavor
	}
	cfg.Host = s.dsn.Addr
	if s.dsn.Net != "unix" {
		host, port, err := net.SplitHostPort(s.dsn.Addr)
		if err != nil {
			return cfg, fmt.Errorf("binlog reader: address %q: %w", s.dsn.Addr, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return cfg, fmt.Errorf("binlog reader: port %q: %w", port, err)
		}
		cfg.Host, cfg.Port = host, uint16(p)
	}
	binlogDecoding(&cfg)
	return cfg, nil
}

// Start reads the binlog from from on (a transaction's commit position, or
// a position between transactions), or from where it ends when from is "".
// A position of another server of the topology is resumed by its GTID
// state (the server skips the transactions it holds).
func (st *binlogStream) Start(ctx context.Context, from litepull.Position) error {
	if st.syncer != nil || st.closed {
		return errors.New("start change stream: already started or closed")
	}
	p, byGTID, err := st.startAt(ctx, from)
	if err == nil && p.offset > math.MaxUint32 {
		err = fmt.Errorf("position %s is past what the binlog protocol can name", p)
	}
	if err != nil {
		return fmt.Errorf("start change stream: %w", err)
	}
	cfg, err := st.src.syncerConfig(st.opts.ServerID, st.server.mariadb)
	if err != nil {
		return err
	}
	st.stalls = st.src.dialer.Stalls()
	syncer := replication.NewBinlogSyncer(cfg)
	var events *replication.BinlogStreamer
	if byGTID {
		var set gomysql.GTIDSet
		if set, err = startSet(p.gtid); err == nil {
			events, err = syncer.StartSyncGTID(set)
		}
	} else {
		events, err = syncer.StartSync(gomysql.Position{Name: p.file, Pos: uint32(p.offset)})
	}
	if err != nil {
		syncer.Close()
		return fmt.Errorf("read the binlog from %s: %w", p, explainGrant(err))
	}
	st.syncer, st.events, st.pos, st.from, st.inexact = syncer, events, p, p, byGTID
	if byGTID {
		// Where in this server's binlog p's GTID state lies is known at the
		// first transaction the server sends.
		st.pos = binlogPos{server: st.server.identity}.withGTID(p.gtid)
	}
	if st.acked.file == "" {
		st.acked = p
	}
	return nil
}

// startAt is where the stream starts from from, and whether by GTID: the
// server's end for "", from's file and offset on the server that wrote
// them, from's GTID state on another. A position without its GTID state
// gets it from a MariaDB server (a MySQL one gives it at its next binlog
// file).
func (st *binlogStream) startAt(ctx context.Context, from litepull.Position) (binlogPos, bool, error) {
	if from == "" {
		p, err := st.current(ctx, true)
		return p, false, err
	}
	p, err := parsePos(from)
	if err != nil {
		return p, false, err
	}
	if p.server != st.server.identity {
		if p.hasGTID && st.server.gtid {
			return p, true, nil
		}
		return p, false, lostError(p, st.server.identity, nil)
	}
	if p.hasGTID || !st.server.gtid || !st.server.mariadb {
		return p, false, nil
	}
	q, release, err := st.src.conn(ctx)
	if err != nil {
		return p, false, err
	}
	defer release()
	p, err = mariaGTIDAt(ctx, q, p)
	return p, false, err
}

// Next returns the next event. Between transactions, a keepalive says
// where the binlog stands: after every event outside a transaction (and
// every transaction of other tables), and, while the server writes
// nothing, every heartbeatEvery.
func (st *binlogStream) Next(ctx context.Context) (litepull.ChangeEvent, error) {
	if st.events == nil {
		return litepull.ChangeEvent{}, errors.New("change stream: Next before Start")
	}
	for len(st.queue) == 0 {
		if st.err != nil {
			return litepull.ChangeEvent{}, st.err
		}
		ev := st.pending
		if ev == nil {
			var err error
			if ev, err = st.events.GetEvent(ctx); err != nil {
				return litepull.ChangeEvent{}, st.fail(ctx, err)
			}
		}
		st.pending = ev
		if err := st.handle(ctx, ev); err != nil {
			if ctx.Err() != nil {
				return litepull.ChangeEvent{}, err // handled again next time
			}
			st.err, st.queue = fmt.Errorf("change stream at %s: %w", st.pos, err), nil
			return litepull.ChangeEvent{}, st.err
		}
		st.pending = nil
	}
	ev := st.queue[0]
	st.queue = st.queue[1:]
	return ev, nil
}

// fail explains an error of the binlog reader: the caller's deadline
// leaves the stream as it is; anything else ends it.
func (st *binlogStream) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	switch {
	case errors.Is(err, replication.ErrSyncClosed), errors.Is(err, replication.ErrNeedSyncAgain):
		err = errors.New("the binlog reader was closed")
	case isTimeout(err) || st.src.dialer.Stalls() != st.stalls:
		err = &litepull.TimeoutError{Op: litepull.OpRead, After: st.src.dialer.Idle}
	case isCode(err, 4052), strings.Contains(err.Error(), "same server_uuid/server_id"):
		err = fmt.Errorf("another binlog reader or replica uses server id %d: give each litepull source a serverId of its own "+
			"(a litepull killed a moment ago holds it until the server notices): %w", st.opts.ServerID, err)
	case isCode(err, 1236):
		err = fmt.Errorf("the server cannot send the binlog from %s (purged?): the changes since may be lost to the replica "+
			"(the next session checks, and says what to do): %w", st.pos, err)
	default:
		err = explainGrant(err)
	}
	st.err = fmt.Errorf("change stream: %w", err)
	return st.err
}

// isTimeout reports a read that timed out: the binlog reader's client
// keeps only the text of its network errors.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "i/o timeout")
}

// Close stops the binlog reader. Close twice is safe.
func (st *binlogStream) Close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	if st.syncer != nil {
		st.syncer.Close()
	}
	return nil
}
