package remote

// Limits are what one statement may hold on a service: its SQLite's
// limits as the service sets them. Zero means SQLite's default.
type Limits struct {
	// Params is the most bound parameters in one statement (SQLite: 32766).
	Params int
	// CompoundTerms is the most terms of a compound SELECT (SQLite: 500).
	// A service with this limit is taken to count the rows of a VALUES
	// clause as terms too, as StarbaseDB was seen to.
	CompoundTerms int
	// ExprDepth is the deepest expression tree (SQLite: 1000).
	ExprDepth int
}

// ServiceLimits is the limits of each kind of HTTP source, measured on the
// real services or taken from their documentation. Every statement a
// source sends is sized to them.
var ServiceLimits = map[string]Limits{
	// A Durable Object's SQLite.
	"starbase": {Params: 100, CompoundTerms: 5, ExprDepth: 100},
	"d1":       {Params: 100},
	"libsql":   {},
}

// SQLite's defaults, for a limit left at zero.
const (
	defaultParams        = 32766
	defaultCompoundTerms = 500
)

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
