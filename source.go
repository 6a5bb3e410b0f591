package litepull

import (
	"context"
	"time"
)

// Value is one value in SQLite's domain: nil, int64, float64, string or
// []byte. Sources convert their native values into these, losslessly; the
// replica stores them as they are.
type Value = any

// Affinity names the SQLite column type a source column is stored as in the
// replica. Only these few names ever appear in replica DDL.
type Affinity string

// The affinities a source may ask for.
const (
	AffInteger Affinity = "INTEGER"
	AffReal    Affinity = "REAL"
	AffText    Affinity = "TEXT"
	AffBlob    Affinity = "BLOB"
	AffNumeric Affinity = "NUMERIC"
	AffNone    Affinity = "" // no declared type: values stored as they come
)

// Column describes one source column and how it is stored in the replica.
type Column struct {
	Name string
	// SourceType is the type as the source's catalog spells it
	// ("timestamp with time zone", "numeric(38,10)"). Recorded in the
	// replica's column metadata.
	SourceType string
	// Affinity is the SQLite column type chosen so that values round-trip.
	Affinity Affinity
	// Position is the source's own number for the column (Postgres attnum,
	// the ordinal position elsewhere): a column dropped and added again
	// under the same name and type, or two columns swapped by renames, get
	// new ones, which is how the replica tells them from an unchanged
	// column. 0: unknown.
	Position int
	// Temporal is true for timestamp-like columns, where a settle horizon and
	// a duration lookback make sense.
	Temporal bool
	// Resolution is the step of a temporal column's values when the catalog
	// says it is coarser than a microsecond: time.Second for MySQL DATETIME
	// and TIMESTAMP without fractional seconds and Postgres timestamp(0),
	// 24h for dates. 0 when finer or unknown. Rows that share the
	// watermark's step but sort before it are reachable only by a lookback.
	Resolution time.Duration
}

// TableSchema is what a source knows of one table.
type TableSchema struct {
	Name       string   // the source table as configured (may be schema-qualified)
	Columns    []Column // in the source's column order
	PrimaryKey []string // discovered primary key; empty when the table has none
	// Handle is what the source needs to read this table (its columns'
	// decoders, say); set by Describe, opaque to everyone else. Any
	// instance of the same source reads with it. A schema built by hand
	// has none: the source then describes the table itself, or fails.
	Handle any
}

// Column returns the column called name, or false.
func (s *TableSchema) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Watermark is a position in the (cursor, primary key) order: the cursor
// value and primary key values of the last row read. A Watermark with no PK
// stands for "every row whose cursor is greater than Cursor".
type Watermark struct {
	Cursor Value
	PK     []Value
}

// PageRequest asks a source for one keyset page.
type PageRequest struct {
	Schema *TableSchema // as returned by Describe
	// Columns to read, in order. Always includes the cursor and primary key.
	Columns    []string
	Cursor     string
	PrimaryKey []string
	// After, if set, is the exclusive lower bound on (cursor, pk).
	After *Watermark
	// Through, if set, is the inclusive upper bound on (cursor, pk).
	Through *Watermark
	// Limit is the most rows to return.
	Limit int
	// MaxBytes is the page's byte budget: a source ends the page early, with
	// More set, once its rows hold more than this many bytes of values (see
	// PageCut). A page always has at least one row. Defaults to
	// DefaultPageBytes.
	MaxBytes int64
	// Settle, when positive, leaves out rows whose (timestamp) cursor is newer
	// than the source's own clock minus Settle.
	Settle time.Duration
	// SettleZone is the IANA time zone that values of a cursor without a
	// time zone (timestamp without time zone, DATETIME, date) are written
	// in, for the settle horizon; "" is the source's default (the
	// database's default time zone; UTC for SQLite).
	SettleZone string
	// Descending reverses the order (the last position first).
	Descending bool
}

// Page is the answer to a PageRequest: rows in (cursor, pk) order, each a
// slice of Values in PageRequest.Columns order.
type Page struct {
	Rows [][]Value
	// More says the source ended the page before PageRequest.Limit rows
	// while rows may follow (at the byte budget, or at the end of a
	// multi-page query): a short page with More is not the end of the table.
	More bool
}

// Page limits.
const (
	// DefaultPageBytes is the byte budget of a page: bounded pages bound the
	// memory of readers and writer, whatever the row size and pageSize.
	DefaultPageBytes = 64 << 20
	// MaxValueBytes is the longest string or BLOB, and the largest row,
	// SQLite stores: its SQLITE_MAX_LENGTH as the driver compiles it.
	MaxValueBytes = 1_000_000_000
)

// ValueBytes is the size of a value as a page's byte budget counts it:
// the length of a string or BLOB, 8 for anything else.
func ValueBytes(v Value) int64 {
	switch v := v.(type) {
	case string:
		return int64(len(v))
	case []byte:
		return int64(len(v))
	}
	return 8
}

// PageCut decides where a source ends a page: at the request's Limit rows,
// or earlier, with More set, once the rows hold more than its byte budget.
// Every source fills its pages through one, so that a page of huge rows
// never holds Limit of them.
type PageCut struct {
	limit  int
	budget int64
	bytes  int64
}

// NewPageCut returns the cut of req's pages.
func NewPageCut(req PageRequest) PageCut {
	c := PageCut{limit: req.Limit, budget: req.MaxBytes}
	if c.budget <= 0 {
		c.budget = DefaultPageBytes
	}
	return c
}

// Add appends row to page and reports whether the page is complete. A page
// completed by its bytes gets More; the next page starts from zero bytes.
func (c *PageCut) Add(page *Page, row []Value) bool {
	page.Rows = append(page.Rows, row)
	for _, v := range row {
		c.bytes += ValueBytes(v)
	}
	switch {
	case len(page.Rows) >= c.limit:
	case c.bytes > c.budget:
		page.More = true
	default:
		return false
	}
	c.bytes = 0
	return true
}

// Rest returns what a multi-page query leaves after its last full or cut
// page, given the rows it returned and its LIMIT: the table's last page
// (maybe empty) if the query ran out of rows; else the leftover rows in a
// page with More, or nil if there are none.
func (c *PageCut) Rest(page *Page, total, limit int) *Page {
	switch {
	case total < limit:
		return page
	case len(page.Rows) > 0:
		page.More = true
		return page
	}
	return nil
}

// Capacity is how many rows to allocate a page for up front: the limit, up
// to a bound, so that a huge pageSize never allocates before rows arrive.
func (c *PageCut) Capacity() int { return min(max(c.limit, 0), maxPreallocRows) }

const maxPreallocRows = 8192

// TableInfo is one table found by discovery.
type TableInfo struct {
	Name       string   // qualified as the source wants it in config
	PrimaryKey []string // empty: no primary key
}

// Source is a database litepull reads from. Implementations live in their
// own packages under source/ and are safe for use by one goroutine at a time
// per table; the engine never reads the same table concurrently. No call
// waits on the server without a deadline: a connection is bounded by the
// source's connect timeout and every wait for data by its read timeout
// (SourceConfig.Timeouts), and one that runs out returns *TimeoutError.
type Source interface {
	// Describe returns the columns and primary key of a table.
	// A missing table is an error wrapping ErrNoTable.
	Describe(ctx context.Context, table string) (*TableSchema, error)
	// ReadPage reads one keyset page. Rows whose cursor is NULL are never
	// returned.
	ReadPage(ctx context.Context, req PageRequest) (*Page, error)
	// CountNullCursor counts the rows whose cursor column is NULL.
	CountNullCursor(ctx context.Context, table, cursor string) (int64, error)
	// Tables lists the tables discovery may replicate.
	Tables(ctx context.Context) ([]TableInfo, error)
	// Ping checks that the source answers.
	Ping(ctx context.Context) error
	// Close releases the source's connections. Close twice is safe.
	Close() error
}

// PageStreamer is implemented by sources that can read several pages with
// one query. In drain mode the engine asks for many pages at once and gets
// each as soon as it is full, which saves a query round trip per page; the
// result is the same as reading the pages one by one.
type PageStreamer interface {
	// StreamPages reads up to pages*req.Limit rows and calls emit with every
	// complete page (PageCut: req.Limit rows, or fewer at the byte budget,
	// with More), in order. When the query runs out of rows, it calls emit
	// once more with the short (possibly empty) last page; when it stops at
	// its limit with rows left over, with those rows and More. emit may
	// block; an error from emit stops the stream and is returned.
	StreamPages(ctx context.Context, req PageRequest, pages int, emit func(*Page) error) error
}

// Clock is implemented by sources that can read their own clock: litepull
// compares cursors with the source's time, never the machine it runs on.
type Clock interface {
	// Now returns the source's current time in zone, the IANA time zone
	// that values of cursors without a time zone are written in ("" for
	// the source's default, as for PageRequest.SettleZone). Its Location
	// is that zone (possibly as a fixed offset), so that a naive value's
	// wall-clock time can be placed in it.
	Now(ctx context.Context, zone string) (time.Time, error)
}

// UniqueKeyer is implemented by sources that can list a table's unique keys
// from their catalog: its primary key and the columns of each unique index
// or constraint that covers every row (not partial, not on expressions).
// A configured primaryKey is accepted only when one of them proves it
// unique: rows that share a key would overwrite each other in the replica.
type UniqueKeyer interface {
	UniqueKeys(ctx context.Context, table string) ([][]string, error)
}

// RowEstimator is implemented by sources that can estimate a table's row
// count cheaply from their statistics (never by counting), for the daemon's
// backlog estimate.
type RowEstimator interface {
	EstimateRows(ctx context.Context, table string) (int64, error)
}

// KeyRange is a range of primary keys in key order: after After
// (exclusive; nil from the first key) through Through (inclusive; nil to
// the last key).
type KeyRange struct {
	After   []Value
	Through []Value
}

// RangeStat is a key range's row count and checksum: the sum, over the
// range's rows, of a hash of each row's whole primary key (see KeyHash).
// Counts alone cannot tell a deleted key from a key the replica lacks (a
// row with a NULL cursor, a late commit below the watermark) in the same
// range; the hashes of different key sets differ whatever the key's type.
type RangeStat struct {
	Count    int64
	Checksum int64
}

// KeyHash names the per-key hash a source sums into a range's checksum
// and the replica computes, for its own copy of the keys, in exactly the
// same way.
type KeyHash int

const (
	// HashNone: the source cannot hash this key the way the replica would
	// (a float key, say). Every range's keys are then looked up at the
	// source: exact, but it reads every key.
	HashNone KeyHash = iota
	// HashMD5 is KeyMD5: the first 32 bits of the MD5 of the key's
	// canonical text, which a Postgres or MySQL source renders in SQL from
	// its own values.
	HashMD5
	// HashSQLite is the hash of internal/keyhash, built from core SQLite
	// functions only, for sources that speak SQLite (a file, libSQL, D1,
	// StarbaseDB): they can run no custom function. For a key of integers
	// it is plain integer arithmetic, which Postgres and MySQL use too.
	HashSQLite
)

// Reconciler is implemented by sources that can find deleted rows cheaply:
// count and checksum key ranges on their side, and say which of a few keys
// still exist.
type Reconciler interface {
	// KeyHash says which hash CountRanges sums for the table's key.
	KeyHash(schema *TableSchema, pk []string) KeyHash
	// CountRanges returns one RangeStat per range, in order, its checksum
	// the sum of KeyHash(schema, pk) over the range (0 for HashNone).
	CountRanges(ctx context.Context, schema *TableSchema, pk []string, ranges []KeyRange) ([]RangeStat, error)
	// ExistingKeys returns the keys, of those given, that the table has.
	ExistingKeys(ctx context.Context, schema *TableSchema, pk []string, keys [][]Value) ([][]Value, error)
}
