// Package postgres is the litepull source for PostgreSQL (and anything that
// speaks its protocol: Supabase, Neon, Hyperdrive connection strings).
//
// Pages are read with the extended protocol at the pgconn level: binary
// results for fixed-width types (integers, floats, timestamps, uuid, bytea),
// text for exact ones (numeric, json), and parameters sent as untyped text so
// that Postgres parses each watermark value in its column's own type.
//
// A Source also streams changes (litepull.ChangeSource, logical.go): a
// publication of the configured tables, a logical replication slot read
// with the pgoutput plugin, and snapshots exported by temporary slots.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/arena"
	"github.com/litepull/litepull/internal/catalog"
	"github.com/litepull/litepull/internal/keyhash"
	"github.com/litepull/litepull/internal/keyset"
	"github.com/litepull/litepull/internal/redact"
	"github.com/litepull/litepull/internal/stall"
)

var (
	_ litepull.Source       = (*Source)(nil)
	_ litepull.PageStreamer = (*Source)(nil)
	_ litepull.Clock        = (*Source)(nil)
)

// Dialect is Postgres': double-quoted identifiers, $n placeholders, row
// values (a row comparison uses a btree range on its leading columns).
var Dialect = keyset.Dialect{Quote: '"', Placeholder: keyset.Dollar, RowValues: true}

// DefaultMaxConns bounds the connections a source opens.
const DefaultMaxConns = 4

// Source reads tables from one Postgres database.
type Source struct {
	id      string
	schema  string // for unqualified names and discovery; "" uses search_path / public
	pool    *pgxpool.Pool
	prepare bool // page queries as named prepared statements
	// streams: the source streams its changes (changes: logical), so a
	// DEFERRABLE unique key proves nothing (UniqueKeys).
	streams bool

	// dialer makes every connection, each read and write of which fails
	// after readTimeout without progress; connect bounds a connection's
	// making (pgconn's ConnectTimeout).
	dialer  *stall.Dialer
	connect time.Duration
	addr    string // host:port, for errors

	// probe connects as an application would (without litepull's UTC
	// session time zone), to learn the database's default time zone once.
	probe *pgx.ConnConfig
	mu    sync.Mutex
	zone  string // the default time zone, once known

	bytesRead atomic.Int64 // from the server, over every connection

	// pinned, for a snapshot's reader, is the one connection every query
	// runs on (inside the snapshot's transaction) instead of the pool's.
	pinned *pinnedConn
}

// BytesRead is how many bytes the source has received from the server.
func (s *Source) BytesRead() int64 { return s.bytesRead.Load() }

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// New connects to cfg.DSN lazily: the first query opens the connection, so a
// dead server fails the tables that need it, not the program.
func New(cfg litepull.SourceConfig) (*Source, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgconn's parse errors redact the password; say which source it was.
		return nil, fmt.Errorf("postgres source %s: bad dsn: %w", cfg.ID, redactDSN(err, cfg.DSN))
	}
	pc.MaxConns = DefaultMaxConns
	connect, read := cfg.Timeouts()
	if pc.ConnConfig.ConnectTimeout == 0 { // the DSN's connect_timeout, if any, wins
		pc.ConnConfig.ConnectTimeout = connect
	}
	src := &Source{id: cfg.ID, schema: cfg.Schema, streams: cfg.Changes == litepull.ChangesLogical,
		dialer:  &stall.Dialer{Idle: read, Dial: pc.ConnConfig.DialFunc},
		connect: pc.ConnConfig.ConnectTimeout,
		addr:    net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port)))}
	pc.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := src.dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &src.bytesRead}, nil
	}
	src.probe = pc.ConnConfig.Copy()
	// Values read as their text form (intervals, ranges, ...) are written
	// in the session's styles, which a role or database may set: pinned
	// to the change stream's, so both paths write one form.
	for k, v := range textSessionParams {
		delete(pc.ConnConfig.RuntimeParams, strings.ToLower(k))
		pc.ConnConfig.RuntimeParams[k] = v
	}
	delete(pc.ConnConfig.RuntimeParams, "TimeZone")
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "litepull"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres source %s: %w", cfg.ID, redactDSN(err, cfg.DSN))
	}
	// Named prepared statements do not survive a transaction-mode pooler
	// (pgbouncer, Supavisor, Hyperdrive): default_query_exec_mode=exec (or
	// any mode but the default) in the DSN turns them off.
	src.pool = pool
	src.prepare = pc.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement
	return src, nil
}

// redactDSN removes the DSN's password from an error message, in case a
// driver ever echoes it.
func redactDSN(err error, dsn string) error {
	cfg, perr := pgconn.ParseConfig(dsn)
	if perr != nil {
		return err
	}
	return redact.Error(err, cfg.Password)
}

// closeWait is how long Close lets the pool say goodbye to the server
// before it closes the connections itself: a stalled server never answers
// the goodbye (pgx would wait 15s per connection).
const closeWait = time.Second

// Close closes the pool, within about 2*closeWait. Close twice is safe.
// A snapshot's reader owns nothing: its snapshot's Close ends it.
func (s *Source) Close() error {
	if s.pinned != nil {
		return nil
	}
	return s.dialer.CloseAfter(closeWait, func() error { s.pool.Close(); return nil })
}

// Ping checks that the server answers.
func (s *Source) Ping(ctx context.Context) error {
	return explainConnect(ctx, s.timeout(ctx, s.pool.Ping(ctx)))
}

// timeout turns a connection not made within the connect timeout, and a
// read or write that stalled, into *litepull.TimeoutError; the caller's
// own deadline or cancellation stays as it is.
func (s *Source) timeout(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	var stalled *stall.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce) && (pgconn.Timeout(err) || errors.As(err, &stalled) || errors.Is(err, context.DeadlineExceeded)):
		return &litepull.TimeoutError{Op: litepull.OpConnect, After: s.connect, Addr: s.addr}
	case errors.As(err, &stalled):
		return &litepull.TimeoutError{Op: litepull.OpRead, After: stalled.Idle}
	}
	return err
}

// exec runs q with text parameters, asking for results in formats, and calls
// row with each row's raw values (valid only during the call).
func (s *Source) exec(ctx context.Context, q string, args []any, formats []int16, row func([][]byte) error) error {
	return s.run(ctx, q, false, args, formats, row)
}

// run is exec, optionally through a prepared statement: page queries repeat
// with new bounds hundreds of times in a backfill, and parsing and planning
// each one again costs a third of the read time.
func (s *Source) run(ctx context.Context, q string, prepare bool, args []any, formats []int16, row func([][]byte) error) error {
	rows := 0
	counted := func(v [][]byte) error { rows++; return row(v) }
	err := s.runOnce(ctx, q, prepare, args, formats, counted)
	if prepare && rows == 0 && isStalePlan(err) {
		// The table's shape changed since the statement was prepared on this
		// connection; runOnce deallocated it, so this prepares it afresh.
		err = s.runOnce(ctx, q, prepare, args, formats, counted)
	}
	return s.timeout(ctx, err)
}

// isStalePlan reports Postgres refusing a prepared statement whose result
// columns changed type (ALTER TABLE … ALTER COLUMN … TYPE).
func isStalePlan(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "cached plan")
}

func (s *Source) runOnce(ctx context.Context, q string, prepare bool, args []any, formats []int16, row func([][]byte) error) error {
	params := make([][]byte, len(args))
	for i, a := range args {
		p, err := encodeParam(a)
		if err != nil {
			return err
		}
		params[i] = p
	}
	conn, release, err := s.acquire(ctx)
	if err != nil {
		return explainConnect(ctx, err)
	}
	defer release()
	var rr *pgconn.ResultReader
	var name string
	if prepare {
		sum := sha256.Sum256([]byte(q))
		name = "litepull_" + hex.EncodeToString(sum[:8])
		if _, err := conn.Prepare(ctx, name, q); err != nil {
			return err
		}
		rr = conn.PgConn().ExecPrepared(ctx, name, params, nil, formats)
	} else {
		rr = conn.PgConn().ExecParams(ctx, q, params, nil, nil, formats)
	}
	var rowErr error
	for rr.NextRow() {
		if rowErr == nil {
			rowErr = row(rr.Values())
		}
	}
	if _, err = rr.Close(); err != nil {
		if prepare {
			// A schema change can invalidate the statement ("cached plan must
			// not change result type"): forget it so the next run prepares
			// it afresh.
			err = errors.Join(err, conn.Deallocate(context.WithoutCancel(ctx), name))
		}
		return err
	}
	return rowErr
}

// qualify checks a configured table name and quotes it, adding the source's
// schema to an unqualified name.
func (s *Source) qualify(table string) (string, error) {
	parts, err := litepull.SplitQualified(table)
	if err != nil {
		return "", err
	}
	if len(parts) == 1 && s.schema != "" {
		parts = []string{s.schema, parts[0]}
	}
	return litepull.QuoteQualified(parts, '"'), nil
}

// describeSQL reads each column's name, type, base type (through one
// domain), category, primary key position and number; then whether a
// function casts the base type to text; and for arrays the element's base
// type (through every domain, as to_json looks), its category, the
// delimiter between elements in the array's text, and whether a function
// casts the element to json.
const describeSQL = `
WITH cols AS (
    SELECT a.attname AS name, a.atttypid AS typ, a.atttypmod AS mod, a.attnum AS attnum, a.attrelid AS rel, a.attnum AS ord
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped)` + columnsSQL

// columnsSQL describes the columns of a CTE cols(name, typ, mod, attnum,
// rel, ord) as describeSQL says, in ord order: Describe's from the
// catalog, a Relation message's from the message (relationSQL).
const columnsSQL = `
SELECT c.name,
       format_type(c.typ, c.mod),
       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END::int8,
       COALESCE(bt.typcategory, t.typcategory)::text,
       COALESCE((SELECT k.ord FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 WHERE i.indrelid = c.rel AND i.indisprimary AND k.attnum = c.attnum), 0)::int8,
       c.attnum::int8,
       EXISTS (SELECT FROM pg_cast x WHERE x.castsource = COALESCE(bt.oid, t.oid) AND x.casttarget = 'text'::regtype AND x.castmethod = 'f'),
       COALESCE(e.oid, 0)::int8, COALESCE(e.typcategory, '')::text, COALESCE(e.typdelim, ',')::text,
       EXISTS (SELECT FROM pg_cast x WHERE x.castsource = e.oid AND x.casttarget = 'json'::regtype AND x.castmethod = 'f')
FROM cols c
JOIN pg_type t ON t.oid = c.typ
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN LATERAL (
    WITH RECURSIVE r AS (
        SELECT p.* FROM pg_type p WHERE COALESCE(bt.typcategory, t.typcategory) = 'A' AND p.oid = COALESCE(bt.typelem, t.typelem)
        UNION ALL
        SELECT p.* FROM pg_type p JOIN r ON r.typtype = 'd' AND p.oid = r.typbasetype)
    SELECT r.oid, r.typcategory, r.typdelim FROM r WHERE r.typtype <> 'd') e ON true
ORDER BY c.ord`

// handle is the TableSchema.Handle of a described table: each column's
// codec, by name.
type handle struct{ codecs map[string]codec }

// described returns schema with its handle, describing the table afresh
// when schema has none (built by hand): then the fresh schema, whose
// columns are the ones the codecs were picked for.
func (s *Source) described(ctx context.Context, schema *litepull.TableSchema) (*litepull.TableSchema, *handle, error) {
	return litepull.Described[*handle](ctx, schema, s.Describe)
}

// Describe reads the table's columns, their types, and its primary key from
// the catalog, and picks a lossless codec for each column.
func (s *Source) Describe(ctx context.Context, table string) (*litepull.TableSchema, error) {
	name, err := s.qualify(table)
	if err != nil {
		return nil, err
	}
	ts := &litepull.TableSchema{Name: table}
	codecs := map[string]codec{}
	pk := catalog.Key{}
	formats := make([]int16, 11) // all text
	err = s.exec(ctx, describeSQL, []any{name}, formats, func(v [][]byte) error {
		col, c, ord, err := describedColumn(v)
		if err != nil {
			return err
		}
		codecs[col.Name] = c
		ts.Columns = append(ts.Columns, col)
		pk.Add(ord, col.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s (looked up as %s)", litepull.ErrNoTable, table, name)
	}
	ts.PrimaryKey = pk.Columns()
	ts.Handle = &handle{codecs: codecs}
	return ts, nil
}

// describedColumn reads one row of columnsSQL: the column, its codec and
// its place in the primary key (0: none).
func describedColumn(v [][]byte) (litepull.Column, codec, int64, error) {
	name, typ := string(v[0]), string(v[1])
	var attnum int
	var ord int64
	pt := pgType{category: string(v[3]), elem: elemType{category: string(v[8])}}
	_, err := fmt.Sscan(string(v[2])+" "+string(v[5])+" "+string(v[4])+" "+string(v[7])+" "+string(v[6])+" "+string(v[10]),
		&pt.oid, &attnum, &ord, &pt.elem.oid, &pt.textCast, &pt.elem.jsonCast)
	if err == nil && len(v[9]) != 1 {
		err = fmt.Errorf("array delimiter %q", v[9])
	}
	if err != nil {
		return litepull.Column{}, codec{}, 0, fmt.Errorf("read the catalog entry of column %s: %w", name, err)
	}
	pt.elem.delim = v[9][0]
	c := codecFor(pt)
	c.key, c.oid = keyFormat(pt.oid, c), pt.oid
	col := litepull.Column{Name: name, SourceType: typ, Affinity: c.affinity, Temporal: c.temporal,
		Resolution: resolution(pt.oid, typ), Position: attnum}
	return col, c, ord, nil
}

// ReadPage reads one keyset page.
func (s *Source) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	return litepull.FirstPage(ctx, s, req)
}

// StreamPages reads up to pages pages with one query, handing each to emit
// as soon as it is full.
func (s *Source) StreamPages(ctx context.Context, req litepull.PageRequest, pages int, emit func(*litepull.Page) error) error {
	schema, t, err := s.described(ctx, req.Schema)
	if err != nil {
		return err
	}
	req.Schema = schema
	q := keyset.New(Dialect)
	from, sel, formats, decoders, err := s.selection(q, t, schema, req.Columns)
	if err != nil {
		return err
	}
	q.Keyset(req)
	if req.Settle > 0 {
		now, err := s.settleNow(ctx, q, req)
		if err != nil {
			return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
		}
		q.Where(fmt.Sprintf("%s <= %s - make_interval(secs => %s)", q.Q(req.Cursor), now, q.Arg(req.Settle.Seconds())))
	}
	whole := req
	whole.Limit = req.Limit * pages
	text := q.SQL(sel, from, whole)

	// Rows share backing slices of a page's worth of rows (up to a bound),
	// and strings one arena: a handful of allocations per page instead of
	// several per row.
	ncol := len(req.Columns)
	split := litepull.NewPageSplitter(req, emit)
	var slab []litepull.Value
	var strs arena.Arena
	err = s.run(ctx, text, s.prepare, q.Args, formats, func(raw [][]byte) error {
		if len(slab) < ncol {
			slab = make([]litepull.Value, split.Capacity()*ncol)
		}
		row := slab[:ncol:ncol]
		slab = slab[ncol:]
		for i, b := range raw {
			if b == nil {
				continue
			}
			v, err := decoders[i](b, &strs)
			if err != nil {
				return fmt.Errorf("column %s: %w", req.Columns[i], err)
			}
			row[i] = v
		}
		return split.Add(row)
	})
	if err != nil {
		return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	return split.End(whole.Limit)
}

// selection renders the select list of columns of a described table, with
// the result format and decoder of each.
func (s *Source) selection(q *keyset.Query, t *handle, schema *litepull.TableSchema, columns []string) (from string, sel []string, formats []int16, decoders []decoder, err error) {
	if from, err = s.qualify(schema.Name); err != nil {
		return "", nil, nil, nil, err
	}
	sel = make([]string, len(columns))
	formats = make([]int16, len(columns))
	decoders = make([]decoder, len(columns))
	for i, name := range columns {
		c, ok := t.codecs[name]
		if !ok {
			return "", nil, nil, nil, fmt.Errorf("%w: %s has no column %q", litepull.ErrUnknownColumn, schema.Name, name)
		}
		if err := litepull.CheckIdent("column", name); err != nil {
			return "", nil, nil, nil, err
		}
		sel[i] = q.Q(name)
		if c.cast != "" {
			sel[i] = fmt.Sprintf(c.cast, q.Q(name)) + " AS " + q.Q(name)
		}
		formats[i], decoders[i] = c.format, c.decode
	}
	return from, sel, formats, decoders, nil
}

var _ litepull.Reconciler = (*Source)(nil)

// CountRanges counts and checksums key ranges in one query, the checksum
// the sum of the KeyHash hash over the range's keys.
func (s *Source) CountRanges(ctx context.Context, schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange) ([]litepull.RangeStat, error) {
	from, err := s.qualify(schema.Name)
	if err != nil {
		return nil, err
	}
	ck := keyhash.Checksum(s.keyHashSQL(schema, pk))
	q := keyset.New(Dialect)
	text := q.RangeCounts(from, keyset.KeyOrder(schema, pk), ranges, ck)
	out := make([]litepull.RangeStat, len(ranges))
	err = s.run(ctx, text, s.prepare, q.Args, []int16{textFormat, textFormat, textFormat}, func(v [][]byte) error {
		i, err1 := strconv.Atoi(string(v[0]))
		n, err2 := strconv.ParseInt(string(v[1]), 10, 64)
		c, err3 := strconv.ParseInt(string(v[2]), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		if i < 0 || i >= len(out) {
			return fmt.Errorf("range index %d out of bounds", i)
		}
		out[i] = litepull.RangeStat{Count: n, Checksum: c}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count key ranges of %s: %w", schema.Name, err)
	}
	return out, nil
}

// ExistingKeys returns the keys, of those given, that the table has,
// decoded as pages are.
func (s *Source) ExistingKeys(ctx context.Context, schema *litepull.TableSchema, pk []string, keys [][]litepull.Value) ([][]litepull.Value, error) {
	schema, t, err := s.described(ctx, schema)
	if err != nil {
		return nil, err
	}
	q := keyset.New(Dialect)
	from, sel, formats, decoders, err := s.selection(q, t, schema, pk)
	if err != nil {
		return nil, err
	}
	text := q.KeysIn(sel, from, pk, keys)
	var out [][]litepull.Value
	var strs arena.Arena
	err = s.exec(ctx, text, q.Args, formats, func(raw [][]byte) error {
		key := make([]litepull.Value, len(raw))
		for i, b := range raw {
			if b == nil {
				continue
			}
			v, err := decoders[i](b, &strs)
			if err != nil {
				return err
			}
			key[i] = v
		}
		out = append(out, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up keys of %s: %w", schema.Name, err)
	}
	return out, nil
}

// settleNow is the source's clock in the cursor's own type: for a cursor
// without a time zone, the wall-clock time of the zone its values are
// written in (litepull's own session is UTC; the application's is not).
func (s *Source) settleNow(ctx context.Context, q *keyset.Query, req litepull.PageRequest) (string, error) {
	c, _ := req.Schema.Column(req.Cursor)
	if !naive(c) {
		return "now()", nil
	}
	zone, err := s.zoneOr(ctx, req.SettleZone)
	if err != nil {
		return "", err
	}
	return "(now() AT TIME ZONE " + q.Arg(zone) + ")", nil
}

// naive reports a timestamp without time zone or a date.
func naive(c litepull.Column) bool {
	t := c.SourceType
	return strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "without time zone") || t == "date"
}

// zoneOr returns zone, or the database's default time zone when zone is "".
func (s *Source) zoneOr(ctx context.Context, zone string) (string, error) {
	if zone != "" {
		return zone, nil
	}
	return s.defaultZone(ctx)
}

// defaultZone is the time zone a session gets when it does not ask for one
// (the server's TimeZone, or the database's or role's): the zone an
// application writes timestamps without time zone in unless it sets its
// own. litepull's sessions are UTC, so a connection of its own asks, once.
func (s *Source) defaultZone(ctx context.Context) (string, error) {
	s.mu.Lock()
	zone := s.zone
	s.mu.Unlock()
	if zone != "" {
		return zone, nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.probe.Copy())
	if err != nil {
		return "", fmt.Errorf("read the database's default time zone: %w (or set timeZone in the config)", explainConnect(ctx, s.timeout(ctx, err)))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := conn.PgConn().Exec(ctx, "SHOW TimeZone").ReadAll()
	err = s.timeout(ctx, err)
	if err == nil && (len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1) {
		err = errors.New("unexpected answer to SHOW TimeZone")
	}
	if err != nil {
		return "", fmt.Errorf("read the database's default time zone: %w (or set timeZone in the config)", err)
	}
	zone = string(res[0].Rows[0][0])
	s.mu.Lock()
	s.zone = zone
	s.mu.Unlock()
	return zone, nil
}

// Now reads the server's clock, placed in zone (or the database's default
// time zone) as a fixed offset: Postgres resolves the zone's name itself.
func (s *Source) Now(ctx context.Context, zone string) (time.Time, error) {
	zone, err := s.zoneOr(ctx, zone)
	if err != nil {
		return time.Time{}, err
	}
	const q = `SELECT (extract(epoch FROM now()) * 1000000)::int8::text,
	                  extract(epoch FROM (now() AT TIME ZONE $1) - (now() AT TIME ZONE 'UTC'))::int8::text`
	var us, off int64
	err = s.exec(ctx, q, []any{zone}, []int16{textFormat, textFormat}, func(v [][]byte) error {
		var err1, err2 error
		us, err1 = strconv.ParseInt(string(v[0]), 10, 64)
		off, err2 = strconv.ParseInt(string(v[1]), 10, 64)
		return errors.Join(err1, err2)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock in time zone %q: %w", zone, err)
	}
	return time.UnixMicro(us).In(time.FixedZone(zone, int(off))), nil
}

// CountNullCursor counts the rows the cursor cannot reach.
func (s *Source) CountNullCursor(ctx context.Context, table, cursor string) (int64, error) {
	name, err := s.qualify(table)
	if err != nil {
		return 0, err
	}
	q, err := Dialect.CountNull(name, cursor)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.exec(ctx, q, nil, []int16{textFormat}, func(v [][]byte) error {
		_, err := fmt.Sscan(string(v[0]), &n)
		return err
	})
	return n, err
}

const tablesSQL = `
SELECT c.relname,
       COALESCE((SELECT json_agg(a.attname ORDER BY k.ord)
                 FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute a
                 WHERE i.indrelid = c.oid AND i.indisprimary AND a.attrelid = c.oid AND a.attnum = k.attnum), '[]')::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname`

// Tables lists the schema's tables (partitioned parents, not partitions) and
// their primary keys.
func (s *Source) Tables(ctx context.Context) ([]litepull.TableInfo, error) {
	schema := s.schema
	if schema == "" {
		schema = "public"
	}
	var out []litepull.TableInfo
	err := s.exec(ctx, tablesSQL, []any{schema}, []int16{textFormat, textFormat}, func(v [][]byte) error {
		t := litepull.TableInfo{Name: string(v[0])}
		if s.schema != "" {
			t.Name = s.schema + "." + t.Name
		}
		if err := json.Unmarshal(v[1], &t.PrimaryKey); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

var _ litepull.RowEstimator = (*Source)(nil)

// EstimateRows returns the planner's row estimate (pg_class.reltuples).
func (s *Source) EstimateRows(ctx context.Context, table string) (int64, error) {
	name, err := s.qualify(table)
	if err != nil {
		return 0, err
	}
	var n int64 = -1
	err = s.exec(ctx, "SELECT GREATEST(reltuples, 0)::int8 FROM pg_class WHERE oid = to_regclass($1)", []any{name}, []int16{textFormat}, func(v [][]byte) error {
		_, err := fmt.Sscan(string(v[0]), &n)
		return err
	})
	return n, err
}

var _ litepull.UniqueKeyer = (*Source)(nil)

const uniqueKeysSQL = `
SELECT json_agg(a.attname ORDER BY k.ord)::text
FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute a
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
  AND i.indisvalid AND i.indisready AND i.indislive AND (i.indimmediate OR NOT $2::bool)
  AND a.attrelid = i.indrelid AND a.attnum = k.attnum
GROUP BY i.indexrelid`

// UniqueKeys lists the columns of the table's unique indexes (its primary
// key and unique constraints among them), leaving out partial and
// expression indexes, which do not make the columns unique, and invalid
// ones (a CREATE UNIQUE INDEX CONCURRENTLY that failed on duplicates
// leaves one behind). A streamed source leaves out DEFERRABLE ones too: a
// transaction may hold two rows with one such key until it commits (a
// swap of two keys in one statement), and the stream sends them as they
// were then, which a replica keyed on it cannot follow: a row was lost.
func (s *Source) UniqueKeys(ctx context.Context, table string) ([][]string, error) {
	name, err := s.qualify(table)
	if err != nil {
		return nil, err
	}
	var out [][]string
	err = s.exec(ctx, uniqueKeysSQL, []any{name, strconv.FormatBool(s.streams)}, []int16{textFormat}, func(v [][]byte) error {
		var k []string
		if err := json.Unmarshal(v[0], &k); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	return out, err
}
