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
}

var tableLabels = []string{"source", "table"}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
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
			"Seconds since the table was last known to be caught up with its source.", tableLabels, nil),
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
		if !t.MorePagesAvailable {
			m.caughtUp[key] = now
		}
	}
}

// Describe and Collect make the lag gauge computed at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.lagGauges }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for k, t := range m.caughtUp {
		ch <- prometheus.MustNewConstMetric(m.lagGauges, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1])
	}
}
