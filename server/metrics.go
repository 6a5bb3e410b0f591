package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/litepull/litepull"
)

// metrics are the daemon's Prometheus metrics, in a registry of their own.
type metrics struct {
	reg      *prometheus.Registry
	rows     *prometheus.CounterVec
	pages    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	nulls    *prometheus.GaugeVec
	ahead    *prometheus.GaugeVec

	mu        sync.Mutex
	caughtUp  map[[2]string]time.Time // last run that ended with no pages left
	lagGauges *prometheus.Desc

	// logical are the sources that stream their changes: their tables'
	// lag is the stream's (streamGauges), not the time since a run.
	logical map[string]bool
	streams streamGauges
}

var tableLabels = []string{"source", "table"}

// streamGauges are the change streams' gauges, read at scrape time from
// the engine (infos) and the followers (following).
type streamGauges struct {
	infos     func() []litepull.StreamInfo
	following func() []FollowerStatus

	lagBytes, retainedBytes, lagSeconds, up *prometheus.Desc
}

func newStreamGauges(infos func() []litepull.StreamInfo, following func() []FollowerStatus) streamGauges {
	source := []string{"source"}
	return streamGauges{infos: infos, following: following,
		lagBytes: prometheus.NewDesc("litepull_stream_lag_bytes",
			"Bytes of WAL the source has written past what its change stream's slot has confirmed.", source, nil),
		retainedBytes: prometheus.NewDesc("litepull_stream_retained_bytes",
			"Bytes of WAL the source keeps for the change stream's slot: a slot that falls behind fills the source's disk.", source, nil),
		lagSeconds: prometheus.NewDesc("litepull_stream_lag_seconds",
			"Age in seconds of the oldest source change the replica lacks (the commit time of the transaction being applied, or when the source passed the stream's position); 0 when caught up.", source, nil),
		up: prometheus.NewDesc("litepull_stream_following",
			"1 while the daemon streams the source's changes, 0 while it waits to follow again after a failure.", source, nil),
	}
}

func newMetrics(logical map[string]bool, streams streamGauges) *metrics {
	m := &metrics{
		logical: logical,
		streams: streams,
		reg:     prometheus.NewRegistry(),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "litepull_rows_pulled_total",
			Help: "Rows read from the source and committed to the replica."}, tableLabels),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "litepull_pages_total",
			Help: "Pages committed to the replica."}, tableLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "litepull_table_errors_total",
			Help: "Runs of a table that ended in an error."}, tableLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "litepull_run_duration_seconds",
			Help: "Duration of one run of one table.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 9)}, tableLabels),
		nulls: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "litepull_null_cursor_rows",
			Help: "Rows whose cursor is NULL, which incremental pulls cannot reach."}, tableLabels),
		ahead: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "litepull_cursor_ahead_seconds",
			Help: "How far the watermark is ahead of the source's clock (+Inf for 'infinity'), when beyond the tolerance; else 0. Rows with a later real timestamp are not replicated."}, tableLabels),
		caughtUp: map[[2]string]time.Time{},
		lagGauges: prometheus.NewDesc("litepull_table_lag_seconds",
			"Seconds since the table was last known to be caught up with its source (polled tables; a streamed table's is litepull_stream_lag_seconds).", tableLabels, nil),
	}
	m.reg.MustRegister(m.rows, m.pages, m.errors, m.duration, m.nulls, m.ahead, m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a run's summary.
func (m *metrics) observe(sum *litepull.Summary, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range sum.Tables {
		if t.Skipped != "" {
			continue
		}
		l := prometheus.Labels{"source": t.SourceID, "table": t.Table}
		key := [2]string{t.SourceID, t.Table}
		m.rows.With(l).Add(float64(t.RowsPulled))
		m.pages.With(l).Add(float64(t.Pages))
		m.duration.With(l).Observe(t.Duration.Seconds())
		if t.Error != "" {
			m.errors.With(l).Inc()
			continue
		}
		if t.NullCursorRows >= 0 {
			m.nulls.With(l).Set(float64(t.NullCursorRows))
		}
		m.ahead.With(l).Set(t.CursorAheadSeconds)
		if !t.MorePagesAvailable && !m.logical[t.SourceID] {
			m.caughtUp[key] = now
		}
	}
}

// Describe and Collect make the lag gauges computed at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lagGauges
	g := m.streams
	for _, d := range []*prometheus.Desc{g.lagBytes, g.retainedBytes, g.lagSeconds, g.up} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.streams.collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for k, t := range m.caughtUp {
		ch <- prometheus.MustNewConstMetric(m.lagGauges, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1])
	}
}

// collect reports each stream as the engine last saw it. A slot whose
// status could not be read has no byte gauges: zero would say all is well.
func (g streamGauges) collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, source string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, source)
	}
	if g.infos != nil {
		for _, si := range g.infos() {
			if si.Error == "" {
				gauge(g.lagBytes, float64(si.Status.LagBytes), si.SourceID)
				gauge(g.retainedBytes, float64(si.Status.RetainedBytes), si.SourceID)
			}
			gauge(g.lagSeconds, si.LagSeconds, si.SourceID)
		}
	}
	if g.following != nil {
		for _, f := range g.following() {
			up := 0.0
			if f.Following {
				up = 1
			}
			gauge(g.up, up, f.SourceID)
		}
	}
}
