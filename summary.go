package litepull

import "time"

// RunOptions selects what a run does.
type RunOptions struct {
	// SourceID and Table, when set, limit the run to one source and/or table.
	SourceID string
	Table    string
	// Drain reads pages until no table has more, instead of one page per table.
	Drain bool
	// Full copies the selected tables whole into shadow tables and swaps
	// them in (as mode: full does on every run).
	Full bool
	// Reconcile looks for rows deleted at the source now, in every selected
	// table that is caught up (deletes: reconcile does it every
	// reconcileEvery).
	Reconcile bool
	// MaxPages and Deadline, when set, stop a drain of a table after that
	// many pages or at that time; the table reports morePagesAvailable.
	MaxPages int
	Deadline time.Time
	// PageBytes is the byte budget of a page: a source ends a page early
	// once its rows hold more. Defaults to DefaultPageBytes.
	PageBytes int64
	// Progress, if set, is called after every committed page.
	Progress func(Progress)
}

// Progress reports a committed page.
type Progress struct {
	SourceID string
	Table    string
	Rows     int64 // rows pulled for this table so far in this run
}

// TableResult is the outcome of one table in one run; its JSON field names
// follow the seed's summary.
type TableResult struct {
	SourceID           string        `json:"sourceId"`
	Table              string        `json:"table"`
	Dest               string        `json:"dest,omitempty"`
	RowsPulled         int64         `json:"rowsPulled"`
	RowsReread         int64         `json:"rowsReread,omitempty"`
	Pages              int           `json:"pages"`
	CursorValue        string        `json:"cursorValue"`
	MorePagesAvailable bool          `json:"morePagesAvailable"`
	NullCursorRows     int64         `json:"nullCursorRows"`
	RowsDeleted        int64         `json:"rowsDeleted,omitempty"`
	FullRefresh        bool          `json:"fullRefresh,omitempty"`
	Reconciled         bool          `json:"reconciled,omitempty"`
	Skipped            string        `json:"skipped,omitempty"`
	Note               string        `json:"note,omitempty"`         // how the table is replicated, when not as configured
	SchemaChange       *SchemaChange `json:"schemaChange,omitempty"` // the shape change this run rebuilt the table for
	Error              string        `json:"error,omitempty"`
	Duration           time.Duration `json:"durationNs"`
	Err                error         `json:"-"`

	// Warnings are problems that do not stop the table but may cost rows:
	// a cursor ahead of the source's clock, a whole-second cursor whose
	// lookback was turned off.
	Warnings []string `json:"warnings,omitempty"`
	// CursorAheadSeconds is how far the watermark is ahead of the source's
	// clock when that is beyond CursorAheadTolerance (+Inf for
	// 'infinity'), else 0. Warnings says it in words.
	CursorAheadSeconds float64 `json:"-"`
}

// Summary is the outcome of a run.
type Summary struct {
	Tables   []TableResult `json:"tables"`
	Duration time.Duration `json:"durationNs"`
}

// Failed counts the tables that ended with an error.
func (s *Summary) Failed() int {
	n := 0
	for _, t := range s.Tables {
		if t.Error != "" {
			n++
		}
	}
	return n
}

// Warned counts the tables that ended with a warning.
func (s *Summary) Warned() int {
	n := 0
	for _, t := range s.Tables {
		if len(t.Warnings) > 0 {
			n++
		}
	}
	return n
}

// MorePagesAvailable reports whether any table has rows left to read.
func (s *Summary) MorePagesAvailable() bool {
	for _, t := range s.Tables {
		if t.MorePagesAvailable {
			return true
		}
	}
	return false
}

// RowsPulled adds up the rows pulled by every table.
func (s *Summary) RowsPulled() int64 {
	var n int64
	for _, t := range s.Tables {
		n += t.RowsPulled
	}
	return n
}
