// Package server is litepull's daemon: a scheduler that keeps the replica
// up to date, and an authenticated HTTP admin API (run, status, reset,
// metrics, read-only queries).
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
	Engine  *litepull.Engine
	Replica *replica.Replica
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
	// MaxRows and QueryTimeout limit /query. Default to DefaultMaxRows and
	// DefaultQueryTimeout.
	MaxRows      int
	QueryTimeout time.Duration
}

// Server is the daemon.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	scheduler *Scheduler
	metrics   *metrics
	queries   *queryPool

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
	qp, err := newQueryPool(cfg.Replica.Path())
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, metrics: newMetrics(), queries: qp, backlog: map[[2]string]backlogEntry{}}
	jobs, err := s.jobs(ctx)
	if err != nil {
		qp.Close()
		return nil, err
	}
	s.scheduler = NewScheduler(cfg.Clock, cfg.Engine.Run, jobs, cfg.Logger)
	s.scheduler.OnSummary = func(sum *litepull.Summary) { s.metrics.observe(sum, time.Now()) }
	return s, nil
}

// DiscoverTimeout bounds the discovery of the sources' tables when the
// daemon starts: a source that has not answered by then is scheduled
// whole, as one that failed, so that it holds up neither the API nor the
// other sources.
const DiscoverTimeout = 10 * time.Second

// discover lists every source's tables (Engine.Tables), all at once, each
// bounded by DiscoverTimeout.
func (s *Server) discover(ctx context.Context) ([][]litepull.TableConfig, []error) {
	sources := s.cfg.Engine.Sources()
	tables, errs := make([][]litepull.TableConfig, len(sources)), make([]error, len(sources))
	var wg sync.WaitGroup
	for i, bs := range sources {
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
// on every run.
func (s *Server) jobs(ctx context.Context) ([]Job, error) {
	var jobs []Job
	discovered, errs := s.discover(ctx)
	for i, bs := range s.cfg.Engine.Sources() {
		sc := bs.Config
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

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	admin := func(h http.HandlerFunc) http.Handler { return s.auth(h, false) }
	reader := func(h http.HandlerFunc) http.Handler { return s.auth(h, true) }
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("POST /replicate/run", admin(s.handleRun))
	mux.Handle("GET /replicate/status", admin(s.handleStatus))
	mux.Handle("POST /replicate/reset", admin(s.handleReset))
	mux.Handle("GET /metrics", reader(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP))
	mux.Handle("POST /query", reader(s.handleQuery(false)))
	mux.Handle("POST /query/raw", reader(s.handleQuery(true)))
	return mux
}

// auth checks the bearer token in constant time. readOnly endpoints also
// take the query token.
func (s *Server) auth(next http.Handler, readOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			allowed := ok && tokenEqual(got, s.cfg.AdminToken)
			if readOnly && s.cfg.QueryToken != "" {
				allowed = allowed || (ok && tokenEqual(got, s.cfg.QueryToken))
			}
			if !allowed {
				w.Header().Set("WWW-Authenticate", `Bearer realm="litepull"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"result": nil, "error": "unauthorized: send Authorization: Bearer <token>"})
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func tokenEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
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
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := litepull.RunOptions{SourceID: q.Get("source"), Table: q.Get("table"), Drain: q.Get("drain") == "1",
		Full: q.Get("full") == "1", Reconcile: q.Get("reconcile") == "1"}
	if opts.Drain {
		opts.Deadline = time.Now().Add(ManualDrainBudget)
	}
	sum, err := s.cfg.Engine.Run(r.Context(), opts)
	if sum != nil {
		s.metrics.observe(sum, time.Now())
	}
	if err != nil && (sum == nil || len(sum.Tables) == 0) {
		code := http.StatusBadRequest
		if r.Context().Err() != nil {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"results": nil, "error": err.Error()})
		return
	}
	out := make([]runResult, 0, len(sum.Tables))
	for _, t := range sum.Tables {
		rr := runResult{SourceID: t.SourceID, Table: t.Table, RowsPulled: t.RowsPulled, CursorValue: t.CursorValue,
			MorePagesAvailable: t.MorePagesAvailable, RowsDeleted: t.RowsDeleted, FullRefresh: t.FullRefresh, Skipped: t.Skipped}
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
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
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
	source, table := r.URL.Query().Get("source"), r.URL.Query().Get("table")
	if source == "" || table == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "source and table are required: /replicate/reset?source=ID&table=NAME"})
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

func (s *Server) handleQuery(raw bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SQL    string `json:"sql"`
			Params []any  `json:"params"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.SQL == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"result": nil, "error": `body must be {"sql": "...", "params": [...]}`})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		res, err := s.queries.query(ctx, body.SQL, body.Params, s.cfg.MaxRows)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("query took longer than %s", s.cfg.QueryTimeout)
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"result": nil, "error": err.Error()})
			return
		}
		if raw {
			writeJSON(w, http.StatusOK, map[string]any{"result": res.raw(), "error": nil})
			return
		}
		objs, err := res.objects()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"result": nil, "error": "encode result"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": objs, "error": nil})
	}
}

// Serve runs the scheduler and the HTTP API on ln until ctx ends, then
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
	s.queries.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Scheduler returns the server's scheduler (for status and tests).
func (s *Server) Scheduler() *Scheduler { return s.scheduler }
