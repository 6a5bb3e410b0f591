// Package mysql is the litepull source for MySQL and MariaDB, through
// github.com/go-sql-driver/mysql.
//
// Pages are read with server-side prepared statements (the binary protocol:
// FLOAT arrives as its exact 4 bytes, integers as integers) in a session
// whose time zone is UTC. Keyset conditions are written in the expanded
// form led by a plain range on the cursor (c >= ? AND (c > ? OR (c = ? AND
// pk > ?))), which MySQL and MariaDB turn into an index range scan.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

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

// Dialect is MySQL's: backquoted identifiers, ? placeholders, expanded
// row comparisons.
var Dialect = keyset.Dialect{Quote: '`', Placeholder: keyset.Question}

// DefaultMaxConns bounds the connections a source opens.
const DefaultMaxConns = 4

// Source reads tables from one MySQL or MariaDB database.
type Source struct {
	id     string
	schema string // database for unqualified names and discovery
	db     *sql.DB
	dialer *stall.Dialer // every connection's, for the read timeout and a bounded Close
	// dsn and connect are the connection's settings, for the binlog
	// reader's own connection.
	dsn     *driver.Config
	connect time.Duration
	// pinned, for a snapshot's reader, is the one connection every
	// statement runs on.
	pinned *pinnedConn
}

// ParseDSN reads a DSN in the driver's form (user:pass@tcp(host:3306)/db?x=y)
// or as a URL (mysql://user:pass@host:3306/db?x=y), and fixes what
// litepull needs: raw dates (no time.Time conversion), a UTC session, and
// generous network timeouts for long reads.
func ParseDSN(dsn string) (*driver.Config, error) {
	if strings.HasPrefix(dsn, "mysql://") || strings.HasPrefix(dsn, "mariadb://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, errors.New("malformed mysql:// URL") // url errors quote the URL, password included
		}
		c := driver.NewConfig()
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
		c.Net, c.Addr = "tcp", u.Host
		if u.Port() == "" {
			c.Addr = u.Hostname() + ":3306"
		}
		c.DBName = strings.TrimPrefix(u.Path, "/")
		dsn = c.FormatDSN()
		if u.RawQuery != "" {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			dsn += sep + u.RawQuery
		}
	}
	c, err := driver.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	c.ParseTime = false
	c.InterpolateParams = false
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	for _, p := range []string{"net_read_timeout", "net_write_timeout"} {
		if _, ok := c.Params[p]; !ok {
			c.Params[p] = "600"
		}
	}
	return c, nil
}

// New opens a pool for cfg.DSN. Connections are made on first use, so a
// dead server fails the tables that need it, not the program.
func New(cfg litepull.SourceConfig) (*Source, error) {
	dc, err := ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql source %s: bad dsn: %w", cfg.ID, redactDSN(err, cfg.DSN))
	}
	dc.Logger = driverLogger{source: cfg.ID, secret: dc.Passwd}
	connect, read := cfg.Timeouts()
	if dc.ReadTimeout > 0 { // the DSN's own, if any, wins
		read = dc.ReadTimeout
	}
	if dc.Timeout > 0 { // the DSN's timeout=, if any, bounds the whole connect
		connect = dc.Timeout
	}
	dc.Timeout = connect
	dialer := &stall.Dialer{Idle: read}
	switch dc.Net {
	case "tcp", "tcp4", "tcp6", "unix":
		dialer.Dial = dc.DialFunc
		dc.DialFunc = dialer.DialContext
	}
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("mysql source %s: %w", cfg.ID, redactDSN(err, cfg.DSN))
	}
	db := sql.OpenDB(explainer{Connector: connector{Connector: conn, timeout: connect, addr: dc.Addr, dialer: dialer}, network: dc.Net, addr: dc.Addr})
	db.SetMaxOpenConns(DefaultMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	schema := cfg.Schema
	if schema == "" {
		schema = dc.DBName
	}
	return &Source{id: cfg.ID, schema: schema, db: db, dialer: dialer, dsn: dc, connect: connect}, nil
}

// redactDSN removes a password from an error message.
func redactDSN(err error, dsn string) error {
	c, perr := driver.ParseDSN(dsn)
	if perr != nil {
		return err
	}
	return redact.Error(err, c.Passwd)
}

// Close closes the pool, within about 2*closeWait. Close twice is safe.
// A snapshot's reader owns nothing: its snapshot's Close ends it.
func (s *Source) Close() error {
	if s.pinned != nil {
		return nil
	}
	return s.dialer.CloseAfter(closeWait, s.db.Close)
}

// Ping checks that the server answers.
func (s *Source) Ping(ctx context.Context) (err error) {
	defer s.watch(ctx, &err)()
	return s.db.PingContext(ctx)
}

// split checks a configured table name and returns its database and name.
func (s *Source) split(table string) (schema, name string, err error) {
	parts, err := litepull.SplitQualified(table)
	if err != nil {
		return "", "", err
	}
	if len(parts) == 2 {
		return parts[0], parts[1], nil
	}
	if s.schema == "" {
		return "", "", fmt.Errorf("table %s: no database: name one in the DSN (…/db) or qualify the table (db.%s)", table, table)
	}
	return s.schema, parts[0], nil
}

func (s *Source) quoted(table string) (string, error) {
	schema, name, err := s.split(table)
	if err != nil {
		return "", err
	}
	return litepull.QuoteQualified([]string{schema, name}, '`'), nil
}

// handle is the TableSchema.Handle of a described table: each column's
// kind, by name.
type handle struct{ columns map[string]column }

// described returns schema with its handle, describing the table afresh
// when schema has none (built by hand): then the fresh schema, whose
// columns are the ones the kinds were found for.
func (s *Source) described(ctx context.Context, schema *litepull.TableSchema) (*litepull.TableSchema, *handle, error) {
	return litepull.Described[*handle](ctx, schema, s.Describe)
}

// Describe reads the table's columns and primary key from information_schema.
func (s *Source) Describe(ctx context.Context, table string) (_ *litepull.TableSchema, err error) {
	defer s.watch(ctx, &err)()
	schema, name, err := s.split(table)
	if err != nil {
		return nil, err
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0),
		COALESCE(DATETIME_PRECISION, 6), COALESCE(CHARACTER_SET_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	defer rows.Close()
	ts := &litepull.TableSchema{Name: table}
	cols := map[string]column{}
	for rows.Next() {
		var col, dataType, colType, charset string
		var prec, scale, fsp int64
		if err := rows.Scan(&col, &dataType, &colType, &prec, &scale, &fsp, &charset); err != nil {
			return nil, fmt.Errorf("describe %s: %w", table, err)
		}
		c := classify(strings.ToLower(dataType), strings.ToLower(colType), prec, scale)
		c.binlog = describeBinlog(strings.ToLower(dataType), colType, charset, fsp)
		cols[col] = c
		ts.Columns = append(ts.Columns, litepull.Column{Name: col, SourceType: colType, Affinity: c.affinity, Temporal: c.temporal,
			Resolution: resolution(strings.ToLower(dataType), fsp), Position: len(ts.Columns) + 1})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s (in database %s)", litepull.ErrNoTable, table, schema)
	}
	ts.PrimaryKey, err = primaryKey(ctx, q, schema, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	ts.Handle = &handle{columns: cols}
	return ts, nil
}

func primaryKey(ctx context.Context, q querier, schema, name string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pk []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		pk = append(pk, c)
	}
	return pk, rows.Err()
}

// ReadPage reads one keyset page.
func (s *Source) ReadPage(ctx context.Context, req litepull.PageRequest) (*litepull.Page, error) {
	return litepull.FirstPage(ctx, s, req)
}

// StreamPages reads up to pages pages with one query, handing each to emit
// as soon as it is full.
func (s *Source) StreamPages(ctx context.Context, req litepull.PageRequest, pages int, emit func(*litepull.Page) error) (err error) {
	defer s.watch(ctx, &err)()
	schema, h, err := s.described(ctx, req.Schema)
	if err != nil {
		return err
	}
	req.Schema = schema
	from, byName, cols, sel, err := s.selection(h, schema, req.Columns)
	if err != nil {
		return err
	}
	// Watermark values go back in their column's type.
	bound := req
	if bound.After, err = bindWatermark(req.After, req, byName); err != nil {
		return err
	}
	if bound.Through, err = bindWatermark(req.Through, req, byName); err != nil {
		return err
	}
	q := newQuery(byName)
	q.Keyset(bound)
	if req.Settle > 0 {
		now, err := s.settleNow(ctx, q, byName[req.Cursor], req.SettleZone)
		if err != nil {
			return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
		}
		q.Where(fmt.Sprintf("%s <= %s - INTERVAL %s MICROSECOND", q.Q(req.Cursor), now, q.Arg(req.Settle.Microseconds())))
	}
	whole := req
	whole.Limit = req.Limit * pages
	text := q.SQL(sel, from, whole)

	db, release, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer release()
	rows, err := db.QueryContext(ctx, text, q.Args...)
	if err != nil {
		return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	defer rows.Close()
	split := litepull.NewPageSplitter(req, emit)
	if err := scanRows(rows, cols, split.Add); err != nil {
		return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read page of %s: %w", req.Schema.Name, err)
	}
	return split.End(whole.Limit)
}

// defaultNow is the server's clock in its default time zone
// (@@global.time_zone, which may be SYSTEM): the zone an application's
// session writes DATETIME values in unless it sets its own. litepull's own
// session is UTC.
// settleNow is the server's clock as the cursor's values are written:
// TIMESTAMP values are read in UTC (the session's zone); DATETIME and DATE
// values are wall-clock times of zone, or of the server's default zone.
// Either zone is turned into its current offset here: a named zone needs
// no time zone tables on the server, and a server default that cannot be
// converted (a named global time_zone without the tables) is an error, not
// a NULL horizon that would silently match no row.
func (s *Source) settleNow(ctx context.Context, q *keyset.Query, c column, zone string) (string, error) {
	if c.kind == kStamp {
		return "UTC_TIMESTAMP(6)", nil
	}
	var off int64
	if zone == "" {
		var n sql.NullInt64
		err := s.queryRow(ctx, []any{&n}, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone))")
		if err != nil {
			return "", fmt.Errorf("read the server's time zone: %w", err)
		}
		if !n.Valid {
			return "", errors.New("the server's global time_zone is a named zone and its time zone tables are not loaded, so settle cannot place DATETIME values; set timeZone on the table or source")
		}
		off = n.Int64
	} else {
		o, err := litepull.ZoneOffset(zone, time.Now())
		if err != nil {
			return "", err
		}
		off = int64(o)
	}
	return "(UTC_TIMESTAMP(6) + INTERVAL " + q.Arg(off) + " SECOND)", nil
}

// Now reads the server's clock, placed in zone, or in the server's default
// time zone (as a fixed offset).
func (s *Source) Now(ctx context.Context, zone string) (_ time.Time, err error) {
	defer s.watch(ctx, &err)()
	var utc string
	var off sql.NullInt64
	err = s.queryRow(ctx, []any{&utc, &off}, "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f'), TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "+
		"CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone))")
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock: %w", err)
	}
	now, err := time.Parse("2006-01-02 15:04:05.999999", utc)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the clock: %w", err)
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return time.Time{}, err
		}
		return now.In(loc), nil
	}
	if !off.Valid {
		return time.Time{}, errors.New("read the clock: the server cannot convert to its own time zone (@@global.time_zone); set timeZone in the config")
	}
	return now.In(time.FixedZone("@@global.time_zone", int(off.Int64))), nil
}

// selection resolves columns of a described table: the quoted table, the
// table's columns by name, and the columns' kinds and select list.
func (s *Source) selection(h *handle, schema *litepull.TableSchema, columns []string) (string, map[string]column, []column, []string, error) {
	from, err := s.quoted(schema.Name)
	if err != nil {
		return "", nil, nil, nil, err
	}
	byName := h.columns
	cols := make([]column, len(columns))
	sel := make([]string, len(columns))
	for i, name := range columns {
		if err := litepull.CheckIdent("column", name); err != nil {
			return "", nil, nil, nil, err
		}
		c, ok := byName[name]
		if !ok {
			return "", nil, nil, nil, fmt.Errorf("%w: %s has no column %q", litepull.ErrUnknownColumn, schema.Name, name)
		}
		cols[i], sel[i] = c, litepull.QuoteIdent(name, '`')
	}
	return from, byName, cols, sel, nil
}

// newQuery starts a statement whose values compare in their columns' types.
func newQuery(byName map[string]column) *keyset.Query {
	q := keyset.New(Dialect)
	// Always a parameter, so always the binary protocol: the text protocol
	// prints FLOAT with 6 significant digits.
	q.LimitArg = true
	q.Cast = func(col, ph string) string {
		if c := byName[col]; c.kind == kDecimal {
			// A string compared with a DECIMAL is compared as a float.
			return fmt.Sprintf("CAST(%s AS DECIMAL(%d,%d))", ph, c.precision, c.scale)
		}
		return ph
	}
	return q
}

// bindKey converts a primary key's values for binding.
func bindKey(key []litepull.Value, pk []string, cols map[string]column) ([]litepull.Value, error) {
	if key == nil {
		return nil, nil
	}
	out := make([]litepull.Value, len(key))
	for i, v := range key {
		b, err := cols[pk[i]].bindValue(v)
		if err != nil {
			return nil, fmt.Errorf("key %v of %s: %w", v, pk[i], err)
		}
		out[i] = b
	}
	return out, nil
}

var _ litepull.Reconciler = (*Source)(nil)

// CountRanges counts and checksums key ranges in one query, the checksum
// the sum of the KeyHash hash over the range's keys.
func (s *Source) CountRanges(ctx context.Context, schema *litepull.TableSchema, pk []string, ranges []litepull.KeyRange) (_ []litepull.RangeStat, err error) {
	defer s.watch(ctx, &err)()
	described, h, err := s.described(ctx, schema)
	if err != nil {
		return nil, err
	}
	from, byName, _, _, err := s.selection(h, described, pk)
	if err != nil {
		return nil, err
	}
	bound := make([]litepull.KeyRange, len(ranges))
	for i, r := range ranges {
		if bound[i].After, err = bindKey(r.After, pk, byName); err != nil {
			return nil, err
		}
		if bound[i].Through, err = bindKey(r.Through, pk, byName); err != nil {
			return nil, err
		}
	}
	q := newQuery(byName)
	ck := keyhash.Checksum(s.keyHashSQL(schema, pk))
	db, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.QueryContext(ctx, q.RangeCounts(from, keyset.KeyOrder(schema, pk), bound, ck), q.Args...)
	if err != nil {
		return nil, fmt.Errorf("count key ranges of %s: %w", schema.Name, err)
	}
	defer rows.Close()
	out := make([]litepull.RangeStat, len(ranges))
	for rows.Next() {
		var i int
		var n, c int64
		if err := rows.Scan(&i, &n, &c); err != nil {
			return nil, fmt.Errorf("count key ranges of %s: %w", schema.Name, err)
		}
		if i < 0 || i >= len(out) {
			return nil, fmt.Errorf("count key ranges of %s: range index %d out of bounds", schema.Name, i)
		}
		out[i] = litepull.RangeStat{Count: n, Checksum: c}
	}
	return out, rows.Err()
}

// ExistingKeys returns the keys, of those given, that the table has,
// converted as pages are.
func (s *Source) ExistingKeys(ctx context.Context, schema *litepull.TableSchema, pk []string, keys [][]litepull.Value) (_ [][]litepull.Value, err error) {
	defer s.watch(ctx, &err)()
	schema, h, err := s.described(ctx, schema)
	if err != nil {
		return nil, err
	}
	from, byName, cols, sel, err := s.selection(h, schema, pk)
	if err != nil {
		return nil, err
	}
	bound := make([][]litepull.Value, len(keys))
	for i, k := range keys {
		if bound[i], err = bindKey(k, pk, byName); err != nil {
			return nil, err
		}
	}
	q := newQuery(byName)
	db, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.QueryContext(ctx, q.KeysIn(sel, from, pk, bound), q.Args...)
	if err != nil {
		return nil, fmt.Errorf("look up keys of %s: %w", schema.Name, err)
	}
	defer rows.Close()
	var out [][]litepull.Value
	err = scanRows(rows, cols, func(row []litepull.Value) error { out = append(out, row); return nil })
	if err != nil {
		return nil, fmt.Errorf("look up keys of %s: %w", schema.Name, err)
	}
	return out, nil
}

func bindWatermark(w *litepull.Watermark, req litepull.PageRequest, cols map[string]column) (*litepull.Watermark, error) {
	if w == nil {
		return nil, nil
	}
	out := &litepull.Watermark{PK: make([]litepull.Value, len(w.PK))}
	var err error
	if out.Cursor, err = cols[req.Cursor].bindValue(w.Cursor); err != nil {
		return nil, fmt.Errorf("watermark %v of %s: %w", w.Cursor, req.Cursor, err)
	}
	for i, v := range w.PK {
		if i < len(req.PrimaryKey) {
			if out.PK[i], err = cols[req.PrimaryKey[i]].bindValue(v); err != nil {
				return nil, fmt.Errorf("watermark %v of %s: %w", v, req.PrimaryKey[i], err)
			}
		}
	}
	return out, nil
}

// CountNullCursor counts the rows the cursor cannot reach.
func (s *Source) CountNullCursor(ctx context.Context, table, cursor string) (_ int64, err error) {
	defer s.watch(ctx, &err)()
	from, err := s.quoted(table)
	if err != nil {
		return 0, err
	}
	q, err := Dialect.CountNull(from, cursor)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.queryRow(ctx, []any{&n}, q)
	return n, err
}

// Tables lists the database's base tables and their primary keys.
func (s *Source) Tables(ctx context.Context) (_ []litepull.TableInfo, err error) {
	defer s.watch(ctx, &err)()
	if s.schema == "" {
		return nil, errors.New("no database to discover: name one in the DSN (…/db) or set schema")
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := q.QueryContext(ctx, `SELECT t.TABLE_NAME, s.COLUMN_NAME
		FROM information_schema.TABLES t
		LEFT JOIN information_schema.STATISTICS s
		  ON s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY'
		WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE'
		ORDER BY t.TABLE_NAME, s.SEQ_IN_INDEX`, s.schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []litepull.TableInfo
	for rows.Next() {
		var name string
		var col sql.NullString
		if err := rows.Scan(&name, &col); err != nil {
			return nil, err
		}
		out = catalog.AddKeyColumn(out, name, col.String, col.Valid)
	}
	return out, rows.Err()
}

var _ litepull.RowEstimator = (*Source)(nil)

// EstimateRows returns information_schema.TABLES.TABLE_ROWS, the storage
// engine's estimate.
func (s *Source) EstimateRows(ctx context.Context, table string) (_ int64, err error) {
	defer s.watch(ctx, &err)()
	schema, name, err := s.split(table)
	if err != nil {
		return 0, err
	}
	var n sql.NullInt64
	err = s.queryRow(ctx, []any{&n}, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, name)
	if err != nil || !n.Valid {
		return -1, err
	}
	return n.Int64, nil
}

// scanRows converts every row: numbers are scanned as the driver's values;
// everything that arrives as bytes is scanned as sql.RawBytes (no copy) and
// carved into one arena.
func scanRows(rows *sql.Rows, cols []column, each func([]litepull.Value) error) error {
	n := len(cols)
	vals := make([]any, n)
	raws := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i, c := range cols {
		if c.viaBytes() {
			ptrs[i] = &raws[i]
		} else {
			ptrs[i] = &vals[i]
		}
	}
	var strs arena.Arena
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]litepull.Value, n)
		for i, c := range cols {
			var err error
			if c.viaBytes() {
				row[i], err = c.convertBytes(raws[i], &strs)
			} else {
				row[i], err = c.convert(vals[i])
			}
			if err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if err := each(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

var _ litepull.UniqueKeyer = (*Source)(nil)

// UniqueKeys lists the columns of the table's unique indexes (PRIMARY among
// them), leaving out those on a column prefix, which do not make the
// column unique.
func (s *Source) UniqueKeys(ctx context.Context, table string) ([][]string, error) {
	schema, name, err := s.split(table)
	if err != nil {
		return nil, err
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := q.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	var last string
	prefix := false
	for rows.Next() {
		var index string
		var col sql.NullString
		var part bool
		if err := rows.Scan(&index, &col, &part); err != nil {
			return nil, err
		}
		if index != last || len(out) == 0 {
			out, last, prefix = append(out, nil), index, false
		}
		prefix = prefix || part || !col.Valid
		if prefix {
			out[len(out)-1] = nil // not a unique key of whole columns
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], col.String)
	}
	return out, rows.Err()
}
