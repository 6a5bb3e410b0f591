// Package server is litepull's daemon: a scheduler that keeps polled
// tables up to date, a follower per source that streams its changes, and
// an authenticated HTTP admin API (run, status, reset, metrics, read-only
// queries).
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// Server limits.
const (
	MaxBodyBytes = 1 << 20
	// ManualDrainBudget bounds a POST /replicate/run?drain=1: a table not
	// caught up by then reports morePagesAvailable, and the next run goes on.
	ManualDrainBudget = 5 * time.Minute
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout = 15 * time.Second
	// ResetWait bounds how long POST /replicate/reset waits for a run of
	// the table to end before it refuses (409) and resets nothing.
	ResetWait = time.Minute
)

// Config is what a Server needs.
type Config struct {
	Engine *litepull.Engine
	// Replica is the engine's replica. /query and /query/raw are served
	// for a replica file (*replica.Replica) only: a remote replica is
	// queried at its own service.
	Replica Replica
	// Sources' configs, for schedules and the status listing.
	Sources []litepull.SourceConfig
	// AdminToken guards every endpoint but /healthz. Empty means no auth,
	// which the command allows only on a loopback address.
	AdminToken string
	// QueryToken, if set, also opens /query, /query/raw and /metrics (read
	// only), and nothing else.
	QueryToken string
	Logger     *slog.Logger
	// Clock drives the scheduler. Defaults to the real clock.
	Clock Clock
	// MaxRows, MaxResponseBytes and QueryTimeout limit /query. Default to
	// DefaultMaxRows, DefaultMaxResponseBytes and DefaultQueryTimeout.
	MaxRows          int
	MaxResponseBytes int
	QueryTimeout     time.Duration
}

// Replica is what the server reads of the replica itself.
type Replica interface {
	States(ctx context.Context) ([]litepull.State, error)
	StreamStates(ctx context.Context) ([]litepull.StreamState, error)
}

// Server is the daemon.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	scheduler *Scheduler
	followers []*Follower // one per source with changes: logical
	metrics   *metrics
	queries   *queryPool

	// Where the change streams stand: the engine's view (slot status, lag)
	// and the replica's record. Tests replace them.
	streamInfos  func() []litepull.StreamInfo
	streamStates func(context.Context) ([]litepull.StreamState, error)

	backlogMu sync.Mutex
	backlog   map[[2]string]backlogEntry
}

type backlogEntry struct {
	at   time.Time
	rows int64
}

// New builds a server: its scheduler jobs (discovering tables where the
// config lists none) and its read-only query connections.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	var qp *queryPool
	if file, ok := cfg.Replica.(*replica.Replica); ok {
		var err error
		if qp, err = newQueryPool(file.Path()); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, queries: qp, backlog: map[[2]string]backlogEntry{},
		streamInfos: cfg.Engine.StreamInfos, streamStates: cfg.Replica.StreamStates}
	logical := map[string]bool{}
	observe := func(sum *litepull.Summary) { s.metrics.observe(sum, time.Now()) }
	for _, bs := range cfg.Engine.Sources() {
		if bs.Config.Streams() {
			logical[bs.Config.ID] = true
			// The engine reports what a stream did as it goes
			// (ObserveStreams), not only when a session ends.
			s.followers = append(s.followers, NewFollower(cfg.Clock, cfg.Engine.Follow, bs.Config.ID, cfg.Logger))
		}
	}
	s.metrics = newMetrics(logical, newStreamGauges(func() []litepull.StreamInfo { return s.streamInfos() }, s.followerStatuses))
	jobs, err := s.jobs(ctx)
	if err != nil {
		if qp != nil {
			qp.Close()
		}
		return nil, err
	}
	s.scheduler = NewScheduler(cfg.Clock, cfg.Engine.Run, jobs, cfg.Logger)
	s.scheduler.OnSummary = observe
	cfg.Engine.ObserveStreams(observe)
	return s, nil
}

// DiscoverTimeout bounds the discovery of the sources' tables when the
// daemon starts: a source that has not answered by then is scheduled
// whole, as one that failed, so that it holds up neither the API nor the
// other sources.
const DiscoverTimeout = 10 * time.Second

// discover lists every polled source's tables (Engine.Tables), all at
// once, each bounded by DiscoverTimeout. Streamed sources are skipped:
// their followers find their tables on every session.
func (s *Server) discover(ctx context.Context) ([][]litepull.TableConfig, []error) {
	sources := s.cfg.Engine.Sources()
	tables, errs := make([][]litepull.TableConfig, len(sources)), make([]error, len(sources))
	var wg sync.WaitGroup
	for i, bs := range sources {
		if bs.Config.Streams() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, DiscoverTimeout)
			defer cancel()
			tables[i], _, errs[i] = s.cfg.Engine.Tables(ctx, bs)
		}()
	}
	wg.Wait()
	return tables, errs
}

// jobs makes one job per scheduled table. A source whose tables cannot be
// discovered now gets one job for the whole source, which discovers them
// on every run. A streamed source has no jobs: its follower keeps it up to
// date.
func (s *Server) jobs(ctx context.Context) ([]Job, error) {
	var jobs []Job
	discovered, errs := s.discover(ctx)
	for i, bs := range s.cfg.Engine.Sources() {
		sc := bs.Config
		if sc.Streams() {
			continue
		}
		job := func(table, schedule string) error {
			if schedule == "" {
				return nil
			}
			sched, err := litepull.ParseSchedule(schedule)
			if err != nil {
				return err
			}
			jobs = append(jobs, Job{SourceID: sc.ID, Table: table, Schedule: sched, Budget: time.Duration(sc.RunBudget), Pages: sc.RunPages})
			return nil
		}
		tables, err := discovered[i], errs[i]
		if err != nil {
			s.logger.Warn("discover tables: scheduling the whole source", litepull.LogKeySource, sc.ID, litepull.LogKeyError, err)
			if err := job("", sc.Schedule); err != nil {
				return nil, err
			}
			continue
		}
		for _, t := range tables {
			schedule := t.Schedule
			if schedule == "" {
				schedule = sc.Schedule
			}
			if err := job(t.Table, schedule); err != nil {
				return nil, err
			}
		}
	}
	return jobs, nil
}

// Handler is the HTTP API. Every error it answers, from any endpoint or
// layer (auth, an unknown path or method, a refused Host or Origin, a
// panic), is JSON: {"error": "message"}, with "result": null added on
// /query and /query/raw, whose answers always carry both (the seed's shape).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	methods := map[string]string{} // path -> allowed method, for 405s
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		methods[path] = method
	}
	admin := func(h http.HandlerFunc) http.Handler { return s.auth(h, false) }
	reader := func(h http.HandlerFunc) http.Handler { return s.auth(h, true) }
	handle("GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	handle("POST", "/replicate/run", admin(s.handleRun))
	handle("GET", "/replicate/status", admin(s.handleStatus))
	handle("POST", "/replicate/reset", admin(s.handleReset))
	handle("GET", "/metrics", reader(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP))
	handle("POST", "/query", reader(s.handleQuery(false)))
	handle("POST", "/query/raw", reader(s.handleQuery(true)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := methods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, m))
			return
		}
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no endpoint %s", r.URL.Path))
	})
	return recoverJSON(s.logger, s.checkHost(checkOrigin(mux)))
}

// recoverJSON answers a panic of a handler with a JSON 500 and logs it:
// the client gets an answer, not a dropped connection.
func recoverJSON(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logger.Error("handler panicked", "path", r.URL.Path, litepull.LogKeyError, fmt.Sprint(p))
			if !tw.wrote {
				writeError(w, r, http.StatusInternalServerError, "internal error (logged by the daemon)")
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter notes whether a response was begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// checkHost, without an admin token, answers only requests addressed to a
// loopback name: a page whose name was rebound to 127.0.0.1 (DNS
// rebinding) sends its own name as Host, and is refused.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" && !loopbackHost(r.Host) {
			writeError(w, r, http.StatusMisdirectedRequest, fmt.Sprintf(
				"Host %q refused: without an admin token the API answers only requests to a loopback name (localhost, 127.0.0.1, [::1])", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface: localhost or a loopback IP, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin refuses a state-changing request (any method but GET, HEAD
// and OPTIONS) that a browser sends from another origin (Sec-Fetch-Site,
// or Origin not matching Host). Requests with neither header (curl,
// scripts) pass.
func checkOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			writeError(w, r, http.StatusForbidden, "cross-origin request refused: a page from another origin may not POST to the API")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auth checks the bearer token in constant time. readOnly endpoints also
// take the query token.
func (s *Server) auth(next http.Handler, readOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken != "" {
			got, ok := bearer(r)
			allowed := ok && tokenEqual(got, s.cfg.AdminToken)
			if readOnly && s.cfg.QueryToken != "" {
				allowed = allowed || (ok && tokenEqual(got, s.cfg.QueryToken))
			}
			if !allowed && !readOnly && ok && s.cfg.QueryToken != "" && tokenEqual(got, s.cfg.QueryToken) {
				writeError(w, r, http.StatusForbidden, "forbidden: the query token reads /query only; this endpoint takes the admin token")
				return
			}
			if !allowed {
				w.Header().Set("WWW-Authenticate", `Bearer realm="litepull"`)
				writeError(w, r, http.StatusUnauthorized, "unauthorized: send Authorization: Bearer <token>")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func tokenEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// writeError answers the one error shape: {"error": msg}, plus
// "result": null on the query endpoints.
func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	body := map[string]any{"error": msg}
	if r.URL.Path == "/query" || r.URL.Path == "/query/raw" {
		body["result"] = nil
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent: a client that went away cannot be told
}

// runResult is one table's line in POST /replicate/run, with the seed's
// field names.
type runResult struct {
	SourceID           string `json:"sourceId"`
	Table              string `json:"table"`
	RowsPulled         int64  `json:"rowsPulled"`
	CursorValue        string `json:"cursorValue"`
	MorePagesAvailable bool   `json:"morePagesAvailable"`
	RowsDeleted        int64  `json:"rowsDeleted,omitempty"`
	FullRefresh        bool   `json:"fullRefresh,omitempty"`
	Error              any    `json:"error"`
	Skipped            string `json:"skipped,omitempty"`
	// Warnings and Note: what the table's run found that is not an error
	// (a cursor ahead of the clock, a whole copy instead of pages).
	Warnings     []string               `json:"warnings,omitempty"`
	Note         string                 `json:"note,omitempty"`
	SchemaChange *litepull.SchemaChange `json:"schemaChange,omitempty"`
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	flags, err := queryFlags(q, "drain", "full", "reconcile")
	if err == nil {
		err = single(q, "source", "table")
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	opts := litepull.RunOptions{SourceID: q.Get("source"), Table: q.Get("table"), Drain: flags["drain"],
		Full: flags["full"], Reconcile: flags["reconcile"]}
	if opts.Drain {
		opts.Deadline = time.Now().Add(ManualDrainBudget)
	}
	sum, err := s.cfg.Engine.Run(r.Context(), opts)
	if sum != nil {
		var ran *litepull.Summary
		sum, ran = s.streamingNotes(r.Context(), sum, opts)
		s.metrics.observe(ran, time.Now())
	}
	if err != nil && (sum == nil || len(sum.Tables) == 0) {
		code := http.StatusBadRequest
		if r.Context().Err() != nil {
			code = http.StatusServiceUnavailable
		}
		writeError(w, r, code, err.Error())
		return
	}
	out := make([]runResult, 0, len(sum.Tables))
	for _, t := range sum.Tables {
		rr := runResult{SourceID: t.SourceID, Table: t.Table, RowsPulled: t.RowsPulled, CursorValue: t.CursorValue,
			MorePagesAvailable: t.MorePagesAvailable, RowsDeleted: t.RowsDeleted, FullRefresh: t.FullRefresh, Skipped: t.Skipped,
			Warnings: t.Warnings, Note: t.Note, SchemaChange: t.SchemaChange}
		if t.Error != "" {
			rr.Error = t.Error
		}
		out = append(out, rr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out, "morePagesAvailable": sum.MorePagesAvailable(),
		"failed": sum.Failed(), "durationMs": sum.Duration.Milliseconds()})
}

// tableStatus is one table in GET /replicate/status.
type tableStatus struct {
	litepull.State
	NextRun             *time.Time `json:"nextRunTs"`
	Schedule            string     `json:"schedule,omitempty"`
	Running             bool       `json:"running"`
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	BackoffUntil        *time.Time `json:"backoffUntil"`
	BacklogEstimate     *int64     `json:"backlogEstimate"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	states, err := s.cfg.Replica.States(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "read state table"})
		s.logger.Error("read state table", litepull.LogKeyError, err)
		return
	}
	jobs := map[[2]string]JobStatus{}
	for _, j := range s.scheduler.Status() {
		jobs[[2]string{j.SourceID, j.Table}] = j
	}
	bySource := map[string][]tableStatus{}
	for _, st := range states {
		ts := tableStatus{State: st}
		j, ok := jobs[[2]string{st.SourceID, st.Table}]
		if !ok {
			j, ok = jobs[[2]string{st.SourceID, ""}] // a whole-source job
		}
		if ok {
			next := j.NextRun
			ts.NextRun, ts.Schedule, ts.Running, ts.ConsecutiveFailures = &next, j.Schedule, j.Running, j.ConsecutiveFailures
			if !j.BackoffUntil.IsZero() {
				b := j.BackoffUntil
				ts.BackoffUntil = &b
			}
		}
		ts.BacklogEstimate = s.backlogEstimate(r.Context(), st)
		bySource[st.SourceID] = append(bySource[st.SourceID], ts)
	}
	type sourceStatus struct {
		ID       string        `json:"id"`
		Kind     string        `json:"kind"`
		Schedule string        `json:"schedule,omitempty"`
		Tables   []tableStatus `json:"tables"`
	}
	out := []sourceStatus{}
	for _, sc := range s.cfg.Sources {
		tables := bySource[sc.ID]
		if tables == nil {
			tables = []tableStatus{}
		}
		out = append(out, sourceStatus{ID: sc.ID, Kind: sc.Kind, Schedule: sc.Schedule, Tables: tables})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out, "streams": s.streamStatuses(r.Context())})
}

// backlogEstimate is the source's row estimate minus the rows pulled so
// far, for sources that estimate cheaply; cached for a minute, and given up
// on after half a second.
func (s *Server) backlogEstimate(ctx context.Context, st litepull.State) *int64 {
	key := [2]string{st.SourceID, st.Table}
	s.backlogMu.Lock()
	e, ok := s.backlog[key]
	s.backlogMu.Unlock()
	if !ok || time.Since(e.at) > time.Minute {
		e = backlogEntry{at: time.Now(), rows: -1}
		for _, bs := range s.cfg.Engine.Sources() {
			if est, isEst := bs.Source.(litepull.RowEstimator); isEst && bs.Config.ID == st.SourceID {
				ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				if n, err := est.EstimateRows(ctx, st.Table); err == nil {
					e.rows = n
				}
				cancel()
			}
		}
		s.backlogMu.Lock()
		s.backlog[key] = e
		s.backlogMu.Unlock()
	}
	if e.rows < 0 {
		return nil
	}
	n := max(e.rows-st.RowsTotal, 0)
	return &n
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	if err := single(r.URL.Query(), "source", "table"); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	source, table := r.URL.Query().Get("source"), r.URL.Query().Get("table")
	if source == "" || table == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "source and table are required: /replicate/reset?source=ID&table=NAME"})
		return
	}
	if s.streams(source) {
		// The follower holds the table's position and writes it back
		// with the next change: the reset would be undone, and the
		// table never copied again.
		writeJSON(w, http.StatusConflict, map[string]any{"error": fmt.Sprintf(
			"%s/%s was not reset: source %s streams its changes in this daemon, which holds its tables' positions; "+
				"to copy the table again, stop the daemon, then litepull run -full -source %s -table %s", source, table, source, source, table)})
		return
	}
	// A run of the table in progress is waited for: it would otherwise
	// commit its old watermark over the reset.
	ctx, cancel := context.WithTimeout(r.Context(), ResetWait)
	defer cancel()
	name, err := s.cfg.Engine.Reset(ctx, source, table)
	switch {
	case errors.Is(err, litepull.ErrNoTable):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		return
	case err != nil && r.Context().Err() != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "stopped before the reset was done"})
		return
	case err != nil && ctx.Err() != nil:
		writeJSON(w, http.StatusConflict, map[string]any{"error": fmt.Sprintf(
			"%s/%s was not reset: a run of it did not end within %s; try again once it has", source, table, ResetWait)})
		return
	case err != nil:
		s.logger.Error("reset state", litepull.LogKeySource, source, litepull.LogKeyTable, table, litepull.LogKeyError, err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "reset failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": map[string]string{"source": source, "table": name}, "error": nil})
}

// streams reports whether the daemon follows source's change stream.
func (s *Server) streams(source string) bool {
	for _, bs := range s.cfg.Engine.Sources() {
		if bs.Config.ID == source && bs.Config.Streams() {
			return true
		}
	}
	return false
}

func (s *Server) handleQuery(raw bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SQL    string `json:"sql"`
			Params []any  `json:"params"`
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber() // 2^53+1 must bind as itself
		if err := dec.Decode(&body); err != nil || body.SQL == "" {
			writeError(w, r, http.StatusBadRequest, `body must be {"sql": "...", "params": [...]}`)
			return
		}
		if s.queries == nil {
			writeError(w, r, http.StatusNotImplemented, "/query is served for a replica file only; query the remote replica at its own service")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		out, err := s.queries.query(ctx, queryRequest{SQL: body.SQL, Params: body.Params, Raw: raw,
			MaxRows: s.cfg.MaxRows, MaxBytes: s.cfg.MaxResponseBytes})
		switch {
		case errors.Is(err, errBusy):
			w.Header().Set("Retry-After", "5")
			writeError(w, r, http.StatusServiceUnavailable, err.Error())
			return
		case err != nil && ctx.Err() != nil:
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("query took longer than %s", s.cfg.QueryTimeout))
			return
		case err != nil:
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		// Written as is: re-encoding (or indenting) a result of up to
		// MaxResponseBytes would hold it twice.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		for _, part := range [][]byte{[]byte(`{"result":`), out, []byte(",\"error\":null}\n")} {
			if _, err := w.Write(part); err != nil {
				return // the client went away
			}
		}
	}
}

// Serve runs the scheduler, the followers and the HTTP API on ln until ctx ends, then
// stops gracefully: the HTTP server drains for up to ShutdownTimeout, and a
// page being written is either committed whole or rolled back.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      ManualDrainBudget + time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.scheduler.Run(ctx)
	}()
	for _, f := range s.followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Run(ctx)
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if serr := hs.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	stop() // the scheduler too, if the listener failed first
	wg.Wait()
	if s.queries != nil {
		s.queries.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Scheduler returns the server's scheduler (for status and tests).
func (s *Server) Scheduler() *Scheduler { return s.scheduler }

// bearer returns the token of an Authorization: Bearer header; the scheme
// name is case-insensitive (RFC 9110).
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// queryFlags reads the named on/off parameters of a request: "1" or "true"
// is on, "0", "false" or absent off; anything else, or a name given twice,
// is an error, never a silent off ("?drain=yes" must not run one tick).
func queryFlags(q url.Values, names ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, n := range names {
		vs := q[n]
		if err := single(q, n); err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			continue
		}
		switch vs[0] {
		case "1", "true":
			out[n] = true
		case "0", "false", "":
		default:
			return nil, fmt.Errorf("%s=%q: want 1 or 0", n, vs[0])
		}
	}
	return out, nil
}

// single refuses a parameter given more than once: which one counts would
// be a guess ("reset?table=a&table=b" must not reset a alone).
func single(q url.Values, names ...string) error {
	for _, n := range names {
		if len(q[n]) > 1 {
			return fmt.Errorf("%s is given %d times; give it once", n, len(q[n]))
		}
	}
	return nil
}
