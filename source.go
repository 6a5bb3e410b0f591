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
	// Temporal is true for timestamp-like columns, where a settle horizon and
	// a duration lookback make sense.
	Temporal bool
}

// TableSchema is what a source knows of one table.
type TableSchema struct {
	Name       string   // the source table as configured (may be schema-qualified)
	Columns    []Column // in the source's column order
	PrimaryKey []string // discovered primary key; empty when the table has none
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
	// Settle, when positive, leaves out rows whose (timestamp) cursor is newer
	// than the source's own clock minus Settle.
	Settle time.Duration
	// Descending reverses the order (the last position first).
	Descending bool
}

// Page is the answer to a PageRequest: rows in (cursor, pk) order, each a
// slice of Values in PageRequest.Columns order.
type Page struct {
	Rows [][]Value
}

// TableInfo is one table found by discovery.
type TableInfo struct {
	Name       string   // qualified as the source wants it in config
	PrimaryKey []string // empty: no primary key
}

// Source is a database litepull reads from. Implementations live in their
// own packages under source/ and are safe for use by one goroutine at a time
// per table; the engine never reads the same table concurrently.
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
	// full page of req.Limit rows, in order. When fewer rows remain, it calls
	// emit once more with the short (possibly empty) last page. emit may
	// block; an error from emit stops the stream and is returned.
	StreamPages(ctx context.Context, req PageRequest, pages int, emit func(*Page) error) error
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
