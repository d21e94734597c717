// Package metrics is the portal's Prometheus instrumentation: request
// durations by route and status, upstream call durations by operation and
// status, retries, token exchanges, read-cache results and sessions. It
// uses its own registry, so nothing global leaks between portals in tests.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ppportal/ppapi"
)

// Metrics holds the collectors.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	upstream *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	cache    *prometheus.CounterVec
}

// New registers the collectors, plus the Go runtime and process ones.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portal_http_request_duration_seconds", Help: "Time to answer a request, by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portal_upstream_request_duration_seconds", Help: "Duration of one attempt of a Power Platform API call, by operation and status (0: no answer).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_upstream_retries_total", Help: "Retried attempts of Power Platform API calls, by operation.",
		}, []string{"operation"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_token_events_total", Help: "Token broker events: cache_hit, obo (exchanges) and refresh, by result.",
		}, []string{"event", "result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_read_cache_total", Help: "Per-user read cache results: hit, miss, shared (joined a call in flight).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.upstream, m.retries, m.tokens, m.cache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest records one answered request.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// ObserveUpstream records one attempt of an API call (ppapi.WithObserver).
func (m *Metrics) ObserveUpstream(ci ppapi.CallInfo) {
	m.upstream.WithLabelValues(ci.Op, strconv.Itoa(ci.Status)).Observe(ci.Duration.Seconds())
	if ci.Attempt > 1 {
		m.retries.WithLabelValues(ci.Op).Inc()
	}
}

// ObserveToken records a token broker event (session.BrokerOptions.Observe).
func (m *Metrics) ObserveToken(event string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tokens.WithLabelValues(event, result).Inc()
}

// ObserveCache records a read-cache result (apicache.Options.Observe).
func (m *Metrics) ObserveCache(result string) {
	m.cache.WithLabelValues(result).Inc()
}

// Sessions exports the number of sessions held in this process.
func (m *Metrics) Sessions(count func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portal_sessions", Help: "Sessions held in this process's memory store.",
	}, func() float64 { return float64(count()) }))
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
