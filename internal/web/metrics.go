package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	checkins    *prometheus.CounterVec
	inventories prometheus.Counter
	jobsHanded  prometheus.Counter
	jobResults  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchbay_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "patchbay_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method", "route"}),
		checkins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchbay_agent_checkins_total",
			Help: "Agent check-ins, by outcome: unchanged, or inventory_needed.",
		}, []string{"outcome"}),
		inventories: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patchbay_agent_inventories_total",
			Help: "Full inventories received from agents.",
		}),
		jobsHanded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patchbay_jobs_handed_total",
			Help: "Jobs handed to agents by long poll.",
		}),
		jobResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchbay_job_results_total",
			Help: "Job results agents reported, by status.",
		}, []string{"status"}),
	}
	reg.MustRegister(m.requests, m.duration, m.checkins, m.inventories, m.jobsHanded, m.jobResults,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

func (s *Server) handleMetrics() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}
