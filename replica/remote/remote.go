// Package remote keeps a litepull replica in a remote SQLite service —
// StarbaseDB, libSQL/Turso (Hrana over HTTP) or Cloudflare D1 — instead of
// a local file. It runs the SQL of the file replica (package replica: the
// same tables, the seed's tmp_replication_state, litepull_columns), and
// only the execution differs: each write is one HTTP request.
//
// # One request per batch
//
// A Batch (a page and its state, a reconciliation's deletes, a change
// stream's transaction) is one request, sized to the service's limits
// (svc.ServiceLimits): multi-row upserts of as many rows as the bound
// parameters and VALUES terms allow. A batch that does not fit one request
// is refused whole, never split: BatchLimits tells the engine how large a
// page may be.
//
// # Idempotent commits
//
// Every request starts with a guard and ends by moving the writer row of
// litepull_writer to the next sequence number with a token of its own:
//
//	INSERT INTO litepull_guard (conflict) SELECT 1 WHERE NOT EXISTS
//	  (SELECT 1 FROM litepull_writer WHERE id = 1 AND seq = <expected>)  -- CHECK fails: nothing runs
//	... the batch ...
//	UPDATE litepull_writer SET seq = <expected+1>, token = <random> WHERE id = 1
//
// When a request fails without the service saying why (a timeout, a
// dropped connection, a 5xx), the writer row tells what happened: our
// token is there, so it committed and its answer was lost (done, not sent
// again); the sequence has not moved, so it did not (sent again); it moved
// with another token, so another writer wrote the replica (an error: one
// writer per replica). A replayed request finds the sequence moved and
// changes nothing.
//
// # Atomicity by kind
//
// D1 runs a {"batch": [...]} all or nothing, and a libSQL request is a
// Hrana batch wrapped in BEGIN and COMMIT whose every step is conditioned
// on the one before: both commit a request whole or not at all. StarbaseDB
// runs a {"transaction": [...]} as one Durable Object call per statement,
// each committing on its own, and stops at the first error; so there a
// request that fails part-way leaves its first statements written, and
// two requests (two writers, or one its client gave up on and sent again)
// may run side by side. There a request claims the writer row first, and
// each statement after runs only while the claim is its own (claim.go):
// of two writers one claims the row and the other stops; a request that
// lands after a later one changes nothing. The order keeps a request cut
// short safe: the rows next, the states and stream position after them,
// the release of the claim last. A state is never ahead of its rows; rows
// may be ahead of their state until the request is sent again (upserts
// make that idempotent); a reader may see part of a page meanwhile.
package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/litepull/litepull"
	svc "github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/replica"
)

// Config is where the replica lives: a kind, its address and token.
type Config = litepull.ReplicaService

// WriterTable holds the replica's commit sequence (one row), and
// GuardTable the CHECK constraints a request's guard statements trip.
const (
	WriterTable = "litepull_writer"
	GuardTable  = "litepull_guard"
	// SwapTable records a full refresh's swap in progress, for a
	// non-atomic service to finish it after a crash.
	SwapTable = "litepull_swaps"
)

// Errors.
var (
	// ErrConflict is a commit refused because another writer wrote the
	// replica since this one last did.
	ErrConflict = errors.New("another writer wrote the replica")
	// ErrBatchTooLarge is a batch that does not fit one request.
	ErrBatchTooLarge = errors.New("batch does not fit one request")
	// ErrRowTooLarge is a row larger than the service stores.
	ErrRowTooLarge = errors.New("row too large for the service")
)

// Replica is a litepull.Replica in a remote SQLite service. Its calls are
// serialized, as the file replica's are.
type Replica struct {
	cfg  Config
	kind kindInfo
	svc  service
	lim  svc.Limits

	mu      sync.Mutex
	noUnhex bool              // the service's SQLite lacks unhex() (before 3.41)
	seq     int64             // the writer row's sequence after our last commit (or read)
	pending *pendingCommit    // a commit whose outcome is unknown
	ensured map[string]string // dest -> signature of the last EnsureTable
	closed  bool
}

// pendingCommit is a request that failed without saying whether it
// committed, and that could not be checked then.
type pendingCommit struct {
	seq    int64    // the sequence it moved from
	tokens []string // its attempts'
}

var (
	_ litepull.Replica      = (*Replica)(nil)
	_ litepull.BatchLimiter = (*Replica)(nil)
)

// Open connects to the service, creates the replica's own tables where
// absent and reads the commit sequence.
func Open(ctx context.Context, cfg Config) (*Replica, error) {
	k, ok := kinds[cfg.Kind]
	if !ok {
		return nil, fmt.Errorf("replica kind %q: want starbase, libsql or d1", cfg.Kind)
	}
	s, err := newService(cfg)
	if err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, kind: k, svc: s, lim: svc.ServiceLimits[cfg.Kind], ensured: map[string]string{}}
	if err := r.init(ctx); err != nil {
		return nil, fmt.Errorf("open replica %s: %w", r.Name(), err)
	}
	return r, nil
}

func newService(cfg Config) (service, error) {
	switch cfg.Kind {
	case "starbase":
		return newStarbase(cfg)
	case "d1":
		return newD1(cfg)
	case "libsql":
		return newLibSQL(cfg)
	}
	return nil, fmt.Errorf("replica kind %q: want starbase, libsql or d1", cfg.Kind)
}

// Name names the replica for messages: kind and host.
func (r *Replica) Name() string { return r.cfg.String() }

// init creates the tables (each statement is idempotent, so a request cut
// short is simply sent again at the next Open) and reads the sequence.
func (r *Replica) init(ctx context.Context) error {
	ddl := replica.SchemaDDL()
	ddl = append(ddl,
		"CREATE TABLE IF NOT EXISTS "+WriterTable+" (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, token TEXT NOT NULL)",
		"INSERT INTO "+WriterTable+" (id, seq, token) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING",
		"CREATE TABLE IF NOT EXISTS "+GuardTable+" (conflict INTEGER CONSTRAINT litepull_conflict CHECK (conflict IS NULL),"+
			" missing INTEGER CONSTRAINT litepull_missing_row CHECK (missing IS NULL))",
		"CREATE TABLE IF NOT EXISTS "+SwapTable+" (dest_table TEXT NOT NULL PRIMARY KEY, shadow_table TEXT NOT NULL)",
	)
	stmts := make([]stmt, len(ddl))
	for i, q := range ddl {
		stmts[i] = stmt{SQL: q, Args: []any{}}
	}
	if err := r.writeAgain(ctx, stmts); err != nil {
		return fmt.Errorf("create the replica's tables: %w", err)
	}
	if err := r.migrateState(ctx); err != nil {
		return err
	}
	if r.kind.json {
		// BLOBs travel as hex through unhex(), which SQLite has since
		// 3.41; an older server gets them inline, as X'…' literals.
		err := r.svc.probe(ctx, "SELECT unhex('00') AS c0")
		r.noUnhex = err != nil && strings.Contains(err.Error(), "no such function")
	}
	seq, _, err := r.readWriter(ctx)
	r.seq = seq
	return err
}

// writeAgain writes idempotent statements (the replica's own tables, IF
// NOT EXISTS), sent again after a failure the service did not explain.
func (r *Replica) writeAgain(ctx context.Context, stmts []stmt) error {
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if attempt > 0 {
			if werr := wait(ctx, attempt, err); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = r.svc.write(ctx, stmts); err == nil {
			return nil
		}
		var se *sqlError
		if errors.As(err, &se) {
			return err
		}
	}
	return err
}

// migrateState adds the columns litepull keeps to a state table the seed
// created with its seven.
func (r *Replica) migrateState(ctx context.Context) error {
	rows, err := r.query(ctx, "SELECT name AS c0 FROM pragma_table_info(?)", []any{replica.StateTable})
	if err != nil {
		return fmt.Errorf("read the state table's columns: %w", err)
	}
	have := map[string]bool{}
	for _, row := range rows {
		have[text(row[0])] = true
	}
	var add []stmt
	for _, c := range replica.StateColumnDecls() {
		if !have[c[0]] {
			add = append(add, stmt{SQL: "ALTER TABLE " + replica.StateTable + " ADD COLUMN " + c[0] + " " + c[1], Args: []any{}})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := r.svc.write(ctx, add); err != nil {
		return fmt.Errorf("add litepull's columns to the seed's state table: %w", err)
	}
	return nil
}

// readWriter reads the commit sequence and the token of the last commit.
func (r *Replica) readWriter(ctx context.Context) (int64, string, error) {
	rows, err := r.query(ctx, "SELECT CAST(seq AS TEXT) AS c0, token AS c1 FROM "+WriterTable+" WHERE id = 1", nil)
	if err != nil {
		return 0, "", fmt.Errorf("read the replica's commit sequence: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return 0, "", fmt.Errorf("read the replica's commit sequence: %d rows, want 1", len(rows))
	}
	var seq int64
	if _, err := fmt.Sscan(text(rows[0][0]), &seq); err != nil {
		return 0, "", fmt.Errorf("read the replica's commit sequence: %q: %w", text(rows[0][0]), err)
	}
	return seq, text(rows[0][1]), nil
}

// Close forgets the service; Close twice is safe.
func (r *Replica) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

var errClosed = errors.New("replica is closed")

// query runs a read. One whose answer came back cut short or garbled, or
// not at all within the read timeout, is sent again (reads change
// nothing), up to readAttempts times; the client itself resends after a
// 5xx or a dropped connection, and a statement refused is not resent.
func (r *Replica) query(ctx context.Context, sql string, args []any) ([][]any, error) {
	var err error
	for attempt := 0; attempt < readAttempts; attempt++ {
		if attempt > 0 {
			if werr := wait(ctx, attempt, err); werr != nil {
				return nil, errors.Join(err, werr)
			}
		}
		var rows [][]any
		if rows, err = r.svc.query(ctx, sql, args); err == nil {
			return rows, nil
		}
		var se *sqlError
		var st *svc.StatusError
		if errors.As(err, &se) || errors.As(err, &st) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// readAttempts is how many times a read is sent (see query).
const readAttempts = 3

// commit sends a batch's rows and states in one request between the guard
// and the sequence's move (see the package comment), and settles a
// failure's outcome. Its statements are upserts and deletes: a request
// that stopped part-way is sent again whole.
func (r *Replica) commit(ctx context.Context, stmts []stmt) error {
	return r.send(ctx, built{stmts: stmts}, true)
}

// commitDDL is commit for statements that change tables (CREATE, DROP,
// RENAME, ADD COLUMN), which are not safe to run twice: on a service that
// may have run part of the request (StarbaseDB), it is not sent again,
// and the caller's next attempt starts from what the service has.
func (r *Replica) commitDDL(ctx context.Context, stmts []stmt) error {
	return r.send(ctx, built{stmts: stmts}, r.kind.atomic)
}

// send is commit for a rendered batch; a failed keep guard is explained
// by the row it lacks.
func (r *Replica) send(ctx context.Context, b built, resend bool) error {
	err := r.sendStmts(ctx, b.stmts, resend)
	if errors.Is(err, litepull.ErrMissingRow) {
		return r.missing(ctx, b.keeps, err)
	}
	return err
}

func (r *Replica) sendStmts(ctx context.Context, stmts []stmt, resend bool) error {
	if r.closed {
		return errClosed
	}
	if err := r.settlePending(ctx); err != nil {
		return err
	}
	// An atomic service's resend keeps its token (a first attempt that
	// committed late refuses it, and is recognized by it); a StarbaseDB
	// resend claims the row anew (see claimed).
	var tokens []string
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if attempt > 0 {
			if werr := wait(ctx, attempt, err); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if attempt == 0 || !r.kind.atomic {
			tokens = append(tokens, newToken())
		}
		all := r.request(stmts, tokens[len(tokens)-1])
		if ferr := r.fits(all); ferr != nil {
			return ferr
		}
		if err = r.svc.write(ctx, all); err == nil {
			r.seq++
			return nil
		}
		done, again, serr := r.settle(ctx, tokens, err)
		if serr != nil || done {
			return serr
		}
		if !again || !resend {
			break
		}
	}
	return err
}

// request is stmts between the guard and the sequence's move, or on
// StarbaseDB between the claim and its release (claimed).
func (r *Replica) request(stmts []stmt, token string) []stmt {
	if !r.kind.atomic {
		return r.claimed(stmts, token)
	}
	all := make([]stmt, 0, len(stmts)+2)
	all = append(all, r.guard())
	all = append(all, stmts...)
	next, expr := r.bind(r.seq + 1)
	return append(all, stmt{SQL: "UPDATE " + WriterTable + " SET seq = " + expr + ", token = ? WHERE id = 1", Args: []any{next, token}})
}

// writeAttempts is how many times a request that failed without being
// refused is sent, writeBackoff the first wait between (then 4x, 9x).
const writeAttempts = 4

var writeBackoff = 250 * time.Millisecond

// wait waits before a resend: longer each time, or as long as a 429 or
// 503 asked (Retry-After), up to 10 seconds.
func wait(ctx context.Context, attempt int, failed error) error {
	d := time.Duration(attempt*attempt) * writeBackoff
	var se *svc.StatusError
	if errors.As(failed, &se) {
		d = max(d, min(se.RetryAfter(), 10*time.Second))
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle decides what a failed request did from the writer row: done, it
// committed; again, it did not and may be sent again (its failure said
// nothing of its statements). An error that is neither is returned.
// tokens are the request's attempts'.
func (r *Replica) settle(ctx context.Context, tokens []string, err error) (done, again bool, _ error) {
	seq, last, rerr := r.readWriter(ctx)
	if rerr != nil {
		// Unknown: the next commit asks again before it writes.
		r.pending = &pendingCommit{seq: r.seq, tokens: tokens}
		return false, false, errors.Join(err, rerr)
	}
	switch {
	case slices.Contains(tokens, last):
		r.seq = seq
		return true, false, nil
	case slices.Contains(tokens, strings.TrimSuffix(last, claimSuffix)):
		// StarbaseDB ran part of it: its claim holds the row.
		r.seq = seq
		var se *sqlError
		if errors.As(err, &se) {
			return false, false, r.explain(se)
		}
		return false, true, nil
	case seq == r.seq:
		var se *sqlError
		if errors.As(err, &se) {
			return false, false, r.explain(se)
		}
		return false, true, nil
	}
	r.seq = seq
	return false, false, r.conflict(seq)
}

// settlePending settles a commit left unknown before writing again.
func (r *Replica) settlePending(ctx context.Context) error {
	p := r.pending
	if p == nil {
		return nil
	}
	seq, last, err := r.readWriter(ctx)
	if err != nil {
		return err
	}
	r.pending = nil
	switch {
	case slices.Contains(p.tokens, strings.TrimSuffix(last, claimSuffix)), seq == p.seq:
		r.seq = seq
		return nil
	}
	r.seq = seq
	return r.conflict(seq)
}

func (r *Replica) conflict(seq int64) error {
	return fmt.Errorf("%w: %s is at commit %d, not the one this litepull wrote last; run one litepull per replica (this batch was not written; the next run starts from the state the replica has)",
		ErrConflict, r.Name(), seq)
}

// explain turns a guard's failed CHECK into its meaning.
func (r *Replica) explain(se *sqlError) error {
	switch {
	case strings.Contains(se.msg, "litepull_conflict"):
		return r.conflict(r.seq)
	case strings.Contains(se.msg, "litepull_missing_row"):
		return fmt.Errorf("%w: %s", litepull.ErrMissingRow, se)
	}
	return se
}

// guard fails the request unless the sequence is where this replica left
// it.
func (r *Replica) guard() stmt {
	seq, expr := r.bind(r.seq)
	return stmt{SQL: "INSERT INTO " + GuardTable + " (conflict) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM " + WriterTable +
		" WHERE id = 1 AND seq = " + expr + ")", Args: []any{seq}}
}

// fits refuses a request beyond the service's limits.
func (r *Replica) fits(all []stmt) error { return r.limits(len(all), requestSize(all)) }

// limits refuses a request of n statements and size bytes beyond the
// service's limits.
func (r *Replica) limits(n, size int) error {
	if most := r.lim.Statements; most > 0 && n > most {
		return fmt.Errorf("%w: %d statements, and %s takes %d per request; lower the table's pageSize", ErrBatchTooLarge, n, r.cfg.Kind, most)
	}
	if most := r.lim.MaxRequestBytes(); size > most {
		return fmt.Errorf("%w: %d bytes, and %s takes %d per request; lower the table's pageSize, or if a single row is this large, project its large columns out (columns:)",
			ErrBatchTooLarge, size, r.cfg.Kind, most)
	}
	return nil
}

// requestSize is about the size of stmts in JSON (a little more), counted
// without encoding them twice.
func requestSize(stmts []stmt) int {
	n := 2
	for _, s := range stmts {
		n += jsonLen(s.SQL) + 24
		for _, a := range s.Args {
			switch a := a.(type) {
			case string:
				n += jsonLen(a) + 1
			case []byte:
				n += len(a)*4/3 + 48 // base64 in a Hrana value
			default:
				n += 48
			}
		}
	}
	return n
}

// jsonLen is the length of s as a JSON string: escapes counted at their
// longest.
func jsonLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			n += 5
		}
	}
	return n
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// text reads a value selected as text (or a small number) as a string;
// NULL is "".
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}
