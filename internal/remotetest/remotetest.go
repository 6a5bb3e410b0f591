// Package remotetest runs test servers for the remote SQLite services a
// replica can be kept in (StarbaseDB, Cloudflare D1, libSQL), over a real
// SQLite database, with each service's limits (remote.ServiceLimits), its
// JSON quirks and its way of running a request of several statements.
package remotetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/remote"
	"github.com/litepull/litepull/internal/sqlitetest"
)

// Token is the bearer token the servers accept.
const Token = "remotetest-token"

// Server is a test service over DB.
type Server struct {
	*sqlitetest.DB
	Kind   string
	URL    string
	limits remote.Limits
	// Faults answer a request before it runs (it changes nothing).
	Faults sqlitetest.Faults
	// Lost answer a write request after it ran: its answer is lost.
	Lost sqlitetest.Faults
	// RPCBytes, if set, is the largest answer of one StarbaseDB
	// statement (StarbaseRPCBytes otherwise).
	RPCBytes int
	// HranaV3, for libSQL, serves Hrana 3 too (GET /v3, POST
	// /v3/pipeline), as sqld does; without it /v3 is not found, as on
	// libSQL's Hrana test server.
	HranaV3 bool

	mu sync.Mutex
	// cutSkip write requests from now on, the next one stops after cut
	// statements as a crash would (StarbaseDB keeps them; an atomic
	// service rolls back).
	cutSkip, cut int
	cutMatch     string // if set, the request cut is the first with a statement containing it
	failWrites   int    // the next write requests answer 503 before they run
	stall        *stall // a request held before a statement (StallWhere)
	writes       int    // write requests that ran to the end
	stmts        int    // statements run by write requests
	lastBody     []byte // the last request's body
	lastPath     string // the last request's path
}

// LastRequest is the path and body of the last request.
func (s *Server) LastRequest() (path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPath, s.lastBody
}

// record keeps each request's path and body for LastRequest.
func (s *Server) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.lastPath, s.lastBody = r.URL.Path, body
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// Cut makes the write request after the next skip ones stop after n
// statements, as if the service died there, with a 500 and no body.
func (s *Server) Cut(skip, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutSkip, s.cut = skip, n
}

// CutWhere makes the first write request with a statement containing
// substr stop after n statements, as Cut does.
func (s *Server) CutWhere(substr string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutMatch, s.cut = substr, n
}

// stall holds the first write request with a statement containing match
// just before that statement.
type stall struct {
	match   string
	reached chan struct{} // closed when a request waits
	release chan struct{} // closed to let it go on
}

// StallWhere makes the first StarbaseDB write request with a statement
// containing substr wait just before that statement until release is
// called (at the latest when the test ends): a request the service is
// still running after its client gave up on it. reached is closed when
// the request waits.
func (s *Server) StallWhere(tb testing.TB, substr string) (reached <-chan struct{}, release func()) {
	st := &stall{match: substr, reached: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.stall = st
	s.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(st.release) }) }
	tb.Cleanup(release)
	return st.reached, release
}

// wait holds a request before the statement StallWhere names.
func (s *Server) wait(st statement) {
	s.mu.Lock()
	h := s.stall
	if h == nil || !strings.Contains(st.SQL, h.match) {
		s.mu.Unlock()
		return
	}
	s.stall = nil
	s.mu.Unlock()
	close(h.reached)
	<-h.release
}

// FailWrites makes the next n write requests answer 503 and change
// nothing.
func (s *Server) FailWrites(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrites = n
}

// writeFault answers a write request that FailWrites fails, and
// reports whether it did.
func (s *Server) writeFault(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWrites == 0 {
		return false
	}
	s.failWrites--
	w.WriteHeader(http.StatusServiceUnavailable)
	return true
}

// Writes is how many write requests ran to their end.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *Server) takeCut(stmts []statement) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut == 0 {
		return 0
	}
	if s.cutMatch != "" {
		for _, st := range stmts {
			if strings.Contains(st.SQL, s.cutMatch) {
				n := s.cut
				s.cut, s.cutMatch = 0, ""
				return n
			}
		}
		return 0
	}
	if s.cutSkip > 0 {
		s.cutSkip--
		return 0
	}
	n := s.cut
	s.cut = 0
	return n
}

func (s *Server) wrote(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.stmts += n
}

// errCut is a request cut short by Cut.
var errCut = errors.New("cut")

func newServer(tb testing.TB, kind string, h func(*Server) http.Handler) *Server {
	db := sqlitetest.New(tb)
	db.SetLimits(remote.ServiceLimits[kind])
	s := &Server{DB: db, Kind: kind, limits: remote.ServiceLimits[kind]}
	ts := httptest.NewServer(s.record(h(s)))
	tb.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// statement is one {"sql", "params"} of a request.
type statement struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params"`
}

// run runs one statement under the service's limits.
func (s *Server) run(query func(string, []any) (*sqlitetest.Result, error), st statement) (*sqlitetest.Result, error) {
	if lim := s.limits; lim.CompoundTerms > 0 && sqlitetest.ValuesRows(st.SQL) >= lim.CompoundTerms {
		return nil, errors.New("too many terms in compound SELECT: SQLITE_ERROR")
	}
	return query(st.SQL, st.Params) // JSON numbers are float64: bound as REAL
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// asObjects passes each row through a JavaScript object, as StarbaseDB's
// /query/raw does: a later column of the same name overwrites an earlier
// one in its place, and names that are array indexes move first.
func asObjects(cols []string, rows [][]any) ([]string, [][]any) {
	var keys []string
	last := map[string]int{}
	for i, c := range cols {
		if _, ok := last[c]; !ok {
			keys = append(keys, c)
		}
		last[c] = i
	}
	sort.SliceStable(keys, func(a, b int) bool {
		na, ia := arrayIndex(keys[a])
		nb, ib := arrayIndex(keys[b])
		if ia && ib {
			return na < nb
		}
		return ia && !ib
	})
	out := make([][]any, len(rows))
	for r, row := range rows {
		out[r] = make([]any, len(keys))
		for k, name := range keys {
			out[r][k] = row[last[name]]
		}
	}
	return keys, out
}

func arrayIndex(name string) (uint64, bool) {
	n, err := strconv.ParseUint(name, 10, 32)
	return n, err == nil && n < 1<<32-1 && strconv.FormatUint(n, 10) == name
}

// Config is the replica config for srv.
func Config(s *Server) litepull.ReplicaService {
	c := litepull.ReplicaService{Kind: s.Kind, URL: s.URL, Token: Token}
	if s.Kind == "d1" {
		c.AccountID, c.DatabaseID = D1Account, D1Database
	}
	return c
}
