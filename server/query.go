package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull/internal/sqlitex"
)

// Query limits. Defaults to DefaultMaxRows rows, DefaultMaxResponseBytes
// and DefaultQueryTimeout per query.
const (
	DefaultMaxRows          = 10000
	DefaultMaxResponseBytes = 64 << 20
	DefaultQueryTimeout     = 5 * time.Second
	// maxQueries bounds the statements inside SQLite at once, counting those
	// that outran their deadline inside one SQL function call: SQLite's
	// interrupt is seen between steps of its VM, never inside a built-in
	// such as instr(), so such a statement runs on after its request has
	// been answered, holding its slot (and up to ~2x MaxResponseBytes)
	// until it returns.
	maxQueries = 4
)

// readPragmas are the pragmas a query may use: they only read.
var readPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "database_list": true, "collation_list": true,
}

// queryPool runs read-only statements on up to maxQueries connections to
// the replica. Writes are impossible three times over: the file is opened
// read-only, query_only is on, and an authorizer allows nothing but reading
// (no ATTACH, no writable pragmas, no temp tables); a statement that is not
// read-only is refused before it runs.
type queryPool struct {
	path  string
	open  func(path string) (*sqlite3.Conn, error)
	slots chan struct{}      // one per statement inside SQLite
	idle  chan *sqlite3.Conn // open connections not in use

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // statements inside SQLite, for tests
}

func newQueryPool(path string) (*queryPool, error) {
	return newQueryPoolWith(path, openReadOnly)
}

// newQueryPoolWith opens one connection now (a replica that cannot be
// opened fails here, not at the first query), the others when needed.
func newQueryPoolWith(path string, open func(string) (*sqlite3.Conn, error)) (*queryPool, error) {
	p := &queryPool{path: path, open: open, slots: make(chan struct{}, maxQueries), idle: make(chan *sqlite3.Conn, maxQueries)}
	c, err := open(path)
	if err != nil {
		return nil, err
	}
	p.idle <- c
	return p, nil
}

func openReadOnly(path string) (*sqlite3.Conn, error) {
	c, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		return nil, fmt.Errorf("open replica read-only: %w", err)
	}
	err = errors.Join(c.BusyTimeout(time.Second), c.Exec("PRAGMA query_only = ON"), overrideSlowBuiltins(c),
		c.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name3rd, _, _, _ string) sqlite3.AuthorizerReturnCode {
			switch action {
			case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_FUNCTION, sqlite3.AUTH_RECURSIVE:
				return sqlite3.AUTH_OK
			case sqlite3.AUTH_PRAGMA:
				if readPragmas[strings.ToLower(name3rd)] {
					return sqlite3.AUTH_OK
				}
			}
			return sqlite3.AUTH_DENY
		}))
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the idle connections, and each busy one as its statement
// returns. It does not wait for them.
func (p *queryPool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}

// conn is an idle connection, or a new one.
func (p *queryPool) conn() (*sqlite3.Conn, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errors.New("the daemon is stopping")
	}
	select {
	case c := <-p.idle:
		return c, nil
	default:
		return p.open(p.path)
	}
}

// put makes c idle again, or closes it if the pool is closed. There are
// never more connections than slots, so idle has room.
func (p *queryPool) put(c *sqlite3.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return
	}
	p.idle <- c
}

// queryRequest is one read query and its limits.
type queryRequest struct {
	SQL    string
	Params []any
	// Raw asks for {"columns": [...], "rows": [[...]]} instead of objects.
	Raw      bool
	MaxRows  int
	MaxBytes int
}

// Query errors a client can act on.
var (
	// errTooManyRows reports a result above the row limit: better an error
	// than silently cut data.
	errTooManyRows = errors.New("result has more rows than the limit")
	// errTooLarge reports a result above the byte limit.
	errTooLarge = errors.New("result is larger than the response limit")
	// errBusy reports that every slot stayed taken until the deadline.
	errBusy = fmt.Errorf("every one of the %d query slots stayed busy (a statement inside one long SQL function call cannot be interrupted and holds its slot until it returns); try again shortly", maxQueries)
)

// query runs one read-only statement and returns its result rendered as
// JSON. It returns when ctx ends even if SQLite has not: SQLite is
// interrupted at its next step, and a statement inside one long function
// call finishes in the background, holding its slot.
func (p *queryPool) query(ctx context.Context, req queryRequest) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, errBusy
	}
	c, err := p.conn()
	if err != nil {
		<-p.slots
		return nil, err
	}
	type answer struct {
		out []byte
		err error
	}
	done := make(chan answer, 1)
	p.running.Add(1)
	go func() {
		defer p.running.Done()
		out, err := p.run(ctx, c, req)
		<-p.slots
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-ctx.Done():
		select {
		case a := <-done:
			return a.out, a.err
		default:
			return nil, ctx.Err()
		}
	}
}

// heavyAnswer is the answer size above which a query's connection is
// closed rather than kept: SQLite's memory only grows, and a connection
// that built large values would hold it until the daemon exits.
const heavyAnswer = 8 << 20

// run runs req on c, then gives c back, or closes it if the driver
// panicked (running out of memory does that: its state is then unknown),
// or if the query failed or answered a lot (it may have grown the
// connection's memory, which is only given back by closing it).
func (p *queryPool) run(ctx context.Context, c *sqlite3.Conn, req queryRequest) (out []byte, err error) {
	broken := true
	defer func() {
		if broken || err != nil || len(out) > heavyAnswer {
			closeQuietly(c)
		} else {
			p.put(c)
		}
	}()
	defer sqlitex.Recover(&err)
	old := c.SetInterrupt(ctx)
	defer c.SetInterrupt(old)
	out, err = runQuery(c, req)
	broken = false
	return out, err
}

func closeQuietly(c *sqlite3.Conn) {
	defer func() { _ = recover() }() // the driver panics on a connection it already closed: nothing to do
	c.Close()
}

// runQuery prepares, binds and steps req's statement, rendering rows as
// they come, and stops at the first row past a limit: the memory it takes
// is about the rendered result, at most MaxBytes.
func runQuery(c *sqlite3.Conn, req queryRequest) ([]byte, error) {
	stmt, tail, err := c.Prepare(req.SQL)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	if stmt == nil {
		return nil, errors.New("empty query")
	}
	if strings.TrimSpace(strings.TrimRight(strings.TrimSpace(tail), ";")) != "" {
		return nil, errors.New("one statement per query")
	}
	if !stmt.ReadOnly() {
		return nil, errors.New("only read-only statements are allowed")
	}
	if stmt.BindCount() != len(req.Params) {
		return nil, fmt.Errorf("the statement has %d parameters, %d given", stmt.BindCount(), len(req.Params))
	}
	for i, v := range req.Params {
		v, err := paramValue(v)
		if err == nil {
			err = sqlitex.Bind(stmt, i+1, v)
		}
		if err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i+1, err)
		}
	}
	w := newResultWriter(stmt, req)
	for n := 0; stmt.Step(); n++ {
		if n == req.MaxRows {
			return nil, fmt.Errorf("%w (%d); add a LIMIT", errTooManyRows, req.MaxRows)
		}
		if err := w.row(stmt, n); err != nil {
			return nil, err
		}
	}
	if err := stmt.Err(); err != nil {
		return nil, err
	}
	return w.end(), nil
}

// paramValue turns a decoded JSON parameter into a value to bind. Numbers
// arrive as json.Number: an integer literal binds as an INTEGER, exactly
// (2^53+1 stays 2^53+1), anything else (1.5, 1e3, or an integer beyond 64
// bits) as a REAL.
func paramValue(v any) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return v, nil
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, fmt.Errorf("number %s is out of range", n)
	}
	return f, nil
}

// resultWriter renders rows as JSON while they are read: objects
// [{"col": value}, ...] or raw {"columns": [...], "rows": [[...], ...]}.
// BLOBs go as base64 (encoding/json's form for bytes), ±Infinity as strings.
type resultWriter struct {
	buf      bytes.Buffer
	raw      bool
	maxBytes int
	names    [][]byte // JSON-encoded column names
}

func newResultWriter(stmt *sqlite3.Stmt, req queryRequest) *resultWriter {
	w := &resultWriter{raw: req.Raw, maxBytes: req.MaxBytes, names: make([][]byte, stmt.ColumnCount())}
	for i := range w.names {
		w.names[i], _ = json.Marshal(stmt.ColumnName(i))
	}
	if w.raw {
		w.buf.WriteString(`{"columns":[`)
		w.buf.Write(bytes.Join(w.names, []byte{','}))
		w.buf.WriteString(`],"rows":[`)
	} else {
		w.buf.WriteByte('[')
	}
	return w
}

// row renders the statement's current row, the n-th (from 0).
func (w *resultWriter) row(stmt *sqlite3.Stmt, n int) error {
	if n > 0 {
		w.buf.WriteByte(',')
	}
	if w.raw {
		w.buf.WriteByte('[')
	} else {
		w.buf.WriteByte('{')
	}
	for i, name := range w.names {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		if !w.raw {
			w.buf.Write(name)
			w.buf.WriteByte(':')
		}
		if err := w.value(stmt, i, n); err != nil {
			return err
		}
	}
	if w.raw {
		w.buf.WriteByte(']')
	} else {
		w.buf.WriteByte('}')
	}
	if w.buf.Len() > w.maxBytes {
		return w.tooLarge(n)
	}
	return nil
}

// value renders column i. A TEXT or BLOB is read in place, and only if
// its bytes alone still fit (its JSON is never shorter).
func (w *resultWriter) value(stmt *sqlite3.Stmt, i, n int) error {
	switch stmt.ColumnType(i) {
	case sqlite3.INTEGER:
		w.buf.WriteString(strconv.FormatInt(stmt.ColumnInt64(i), 10))
	case sqlite3.FLOAT:
		f := stmt.ColumnFloat(i)
		switch {
		case math.IsInf(f, 1):
			w.buf.WriteString(`"Infinity"`)
		case math.IsInf(f, -1):
			w.buf.WriteString(`"-Infinity"`)
		default:
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			w.buf.Write(b)
		}
	case sqlite3.TEXT:
		text := stmt.ColumnRawText(i)
		if w.buf.Len()+len(text) > w.maxBytes {
			return w.tooLarge(n)
		}
		b, err := json.Marshal(string(text))
		if err != nil {
			return err
		}
		w.buf.Write(b)
	case sqlite3.BLOB:
		blob := stmt.ColumnRawBlob(i)
		if w.buf.Len()+len(blob) > w.maxBytes {
			return w.tooLarge(n)
		}
		w.buf.Grow(base64.StdEncoding.EncodedLen(len(blob)) + 2)
		w.buf.WriteByte('"')
		w.buf.Write(base64.StdEncoding.AppendEncode(w.buf.AvailableBuffer(), blob))
		w.buf.WriteByte('"')
	default:
		w.buf.WriteString("null")
	}
	return nil
}

func (w *resultWriter) tooLarge(n int) error {
	return fmt.Errorf("%w of %d bytes, reached at row %d; select fewer rows or columns, or raise the limit (serve -query-max-bytes)",
		errTooLarge, w.maxBytes, n+1)
}

// end closes the rendering and returns it.
func (w *resultWriter) end() []byte {
	if w.raw {
		w.buf.WriteString("]}")
	} else {
		w.buf.WriteByte(']')
	}
	return w.buf.Bytes()
}
