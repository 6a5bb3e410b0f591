package remote

// Limits are what one statement may hold on a service: its SQLite's
// limits as the service sets them. Zero means SQLite's default.
type Limits struct {
	// Params is the most bound parameters in one statement (SQLite: 32766).
	Params int
	// CompoundTerms is the most terms of a compound SELECT (SQLite: 500).
	// A service with this limit is taken to count the rows of a VALUES
	// clause as terms too, as StarbaseDB was once seen to; a local workerd
	// (SQLite 3.47) does not (docs/services.md), so this is conservative.
	CompoundTerms int
	// ExprDepth is the deepest expression tree (SQLite: 1000).
	ExprDepth int
	// SQLLength is the longest statement in bytes (SQLite: 1,000,000,000).
	SQLLength int
	// Statements is the most statements one atomic write request may hold
	// (0: no limit known), and RequestBytes the largest request body
	// (0: DefaultRequestBytes). A replica's batch that needs more is
	// refused whole, never split across requests.
	Statements   int
	RequestBytes int
	// RowBytes is the largest string, BLOB or row the service stores
	// (SQLITE_LIMIT_LENGTH; 0: SQLite's default, 1,000,000,000).
	RowBytes int
}

// ServiceLimits is the limits of each kind of HTTP source, measured on the
// real services or taken from their documentation. Every statement a
// source sends is sized to them.
var ServiceLimits = map[string]Limits{
	// A Durable Object's SQLite: statements of 100,000 bytes at most
	// (SQLITE_TOOBIG past that, measured on workerd); strings, BLOBs and
	// rows up to 2 MB (Cloudflare's documented limits, for D1 too).
	"starbase": {Params: 100, CompoundTerms: 5, ExprDepth: 100, SQLLength: 100_000, RequestBytes: 32 << 20, RowBytes: 2_000_000},
	// D1: 100 bound parameters, 100 KB of SQL per statement, 1,000
	// queries per Worker invocation (a batch counts each).
	"d1":     {Params: 100, Statements: 1000, RequestBytes: 32 << 20, RowBytes: 2_000_000},
	"libsql": {},
}

// SQLite's defaults, for a limit left at zero.
const (
	defaultParams        = 32766
	defaultCompoundTerms = 500
)

// DefaultRequestBytes is the largest write request body when a service's
// limits give none.
const DefaultRequestBytes = 32 << 20

// MaxParams is the most bound parameters in one statement.
func (l Limits) MaxParams() int { return l.params() }

// MaxValuesRows is the most rows of one VALUES clause.
func (l Limits) MaxValuesRows() int { return l.valuesRows() }

// MaxRequestBytes is the largest write request body.
func (l Limits) MaxRequestBytes() int {
	if l.RequestBytes > 0 {
		return l.RequestBytes
	}
	return DefaultRequestBytes
}

func (l Limits) params() int {
	if l.Params > 0 {
		return l.Params
	}
	return defaultParams
}

// valuesRows is the most rows a VALUES clause may hold.
func (l Limits) valuesRows() int {
	if l.CompoundTerms > 0 {
		return l.CompoundTerms - 1
	}
	return defaultCompoundTerms
}
