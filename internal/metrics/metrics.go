// Package metrics is what Tributary tells Prometheus, through
// prometheus/client_golang: every metric's name, help and labels, in one
// place, in the tributary_ namespace. The parts of the service record into
// it through nil-safe methods, so a part built without metrics (in tests)
// records nothing.
package metrics

import (
	"database/sql"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "tributary"

// Metrics holds the service's metrics, registered on one registry.
type Metrics struct {
	reg       *prometheus.Registry
	replacing sync.Mutex // held while a gauge is replaced (replace)

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	httpInFlight  prometheus.Gauge
	httpRespBytes *prometheus.CounterVec
	subDuration   *prometheus.HistogramVec
	connRefused   *prometheus.CounterVec
	connIdleShut  prometheus.Counter

	appendedEvents  prometheus.Counter
	appendedBatches prometheus.Counter
	appendConflicts *prometheus.CounterVec
	appendReplays   prometheus.Counter
	groupSize       prometheus.Histogram
	groupDuration   prometheus.Histogram
	statements      *prometheus.CounterVec

	subscriptionsOpen *prometheus.GaugeVec
	delivered         prometheus.Counter
	fallbacks         prometheus.Counter
	feedHead          prometheus.Gauge
	feedPoll          prometheus.Histogram
	feedPollFailures  prometheus.Counter
	feedLastPoll      prometheus.Gauge

	storeErrors *prometheus.CounterVec

	tokensReloads    *prometheus.CounterVec
	tokensLastReload prometheus.Gauge

	store   []prometheus.Collector // the store's, replaced if it is opened again
	replica prometheus.Collector   // the store's replica lag, likewise
	lag     prometheus.Collector   // the live feed's subscription lag, likewise
	bodies  prometheus.Collector   // the server's request bodies in flight, likewise
	conns   prometheus.Collector   // the server's connections open, likewise
}

// New makes the metrics on a registry of their own, with the Go runtime's
// and the process's, and the build's info (version).
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern and method; a subscription's life is in tributary_http_subscription_duration_seconds.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route", "method"})
	m.subDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "http", Name: "subscription_duration_seconds",
		Help:    "How long a subscription (a GET answered as text/event-stream) stayed open, by route pattern.",
		Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600}}, []string{"route"})
	m.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being answered now, subscriptions included."})
	m.httpRespBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "response_bytes_total",
		Help: "Bytes of HTTP response bodies written, by route pattern."}, []string{"route"})
	m.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "connections_refused_total",
		Help: "Connections refused at a bound on connections, with none that could be closed in their way, by the bound reached: server (TRIBUTARY_MAX_CONNECTIONS) or client (TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT). Each is closed after its answer, 503 (without content to a HEAD), but 200 to a liveness probe of /healthz and 204 to a CORS preflight; one that sends no request (its whole headers) within 1 s, or one past 64 being answered at once, is closed unanswered."}, []string{"bound"})
	m.connIdleShut = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "connections_closed_idle_total",
		Help: "Connections closed to make room for a new one at a bound on connections: idle kept-alive ones, new ones silent for 2 s, ones 2 s in their request's headers, ones receiving an append's body behind 64 KiB/s (answered 408), or ones whose response has waited 2 s on its client (cut)."})

	m.appendedEvents = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "append", Name: "events_total",
		Help: "Events appended (written, not replayed)."})
	m.appendedBatches = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "append", Name: "batches_total",
		Help: "Appends that wrote their batch."})
	m.appendConflicts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "append", Name: "conflicts_total",
		Help: "Appends refused for a conflict with the stream, by kind."}, []string{"kind"})
	m.appendReplays = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "append", Name: "replays_total",
		Help: "Appends that repeated a stored batch and were answered from it (idempotent retries)."})
	m.groupSize = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "group_commit", Name: "requests",
		Help: "Appends taken into one group-commit transaction.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})
	m.groupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "group_commit", Name: "duration_seconds",
		Help:    "Time of one group-commit transaction, from BEGIN to COMMIT, lock waits included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}})
	m.statements = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "db", Name: "statements_total",
		Help: "Statements this process sent to the database, by kind."}, []string{"kind"})

	m.subscriptionsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "subscriptions", Name: "open",
		Help: "Subscriptions open now, by endpoint (log: /events, stream: /streams/{id}/events)."}, []string{"endpoint"})
	m.delivered = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "subscriptions", Name: "events_delivered_total",
		Help: "Events written to subscribers."})
	m.fallbacks = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "subscriptions", Name: "fallbacks_total",
		Help: "Times a subscriber fell behind the live feed and went back to reading the store."})
	m.feedHead = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "feed", Name: "head_position",
		Help: "The last log position the live feed has handed out."})
	m.feedPoll = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "feed", Name: "poll_duration_seconds",
		Help:    "Time of one poll of the live feed's tailer: reading new events and waiting for them to be durable.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}})
	m.feedPollFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "feed", Name: "poll_failures_total",
		Help: "Polls of the live feed's tailer that failed (the database out of reach, slow or refusing): its head does not move while they fail."})
	m.feedLastPoll = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "feed", Name: "last_poll_timestamp_seconds",
		Help: "When the live feed's tailer last polled the log successfully, or read a page of it in a long poll, in Unix seconds (0: not yet): time() minus it is how stale the feed is."})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "store", Name: "errors_total",
		Help: "Requests answered 503 for the database, /readyz's included, by cause: " + strings.Join(StoreErrorCauses, ", ") + "."}, []string{"cause"})

	m.tokensReloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "tokens", Name: "reloads_total",
		Help: "Changes to the tokens file (TRIBUTARY_API_TOKENS_FILE) the running server met, by outcome: " + strings.Join(TokensReloadOutcomes, ", ") +
			" (each said once, as its log line is)."}, []string{"outcome"})
	m.tokensLastReload = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "tokens", Name: "last_reload_timestamp_seconds",
		Help: "When the tokens in force were last read from the tokens file (TRIBUTARY_API_TOKENS_FILE), at start-up or by a change applied, in Unix seconds (0: no tokens file)."})

	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help:        "The running build: its version and Go version (value 1).",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	build.Set(1)

	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.httpInFlight, m.httpRespBytes, m.subDuration, m.connRefused, m.connIdleShut,
		m.appendedEvents, m.appendedBatches, m.appendConflicts, m.appendReplays, m.groupSize, m.groupDuration, m.statements,
		m.subscriptionsOpen, m.delivered, m.fallbacks, m.feedHead, m.feedPoll, m.feedPollFailures, m.feedLastPoll, m.storeErrors, m.tokensReloads, m.tokensLastReload, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	// Every kind of conflict, cause and endpoint shows, at 0, from the start.
	for _, k := range ConflictKinds {
		m.appendConflicts.WithLabelValues(k)
	}
	for _, c := range StoreErrorCauses {
		m.storeErrors.WithLabelValues(c)
	}
	for _, e := range []string{"log", "stream"} {
		m.subscriptionsOpen.WithLabelValues(e)
	}
	for _, b := range []string{"server", "client"} {
		m.connRefused.WithLabelValues(b)
	}
	for _, o := range TokensReloadOutcomes {
		m.tokensReloads.WithLabelValues(o)
	}
	return m
}

// The outcomes of a change to the tokens file, as the reloads metric
// labels them: its tokens put in force, refused (an entry the start-up
// would refuse; the tokens in force kept), or the file unreadable (the
// tokens in force kept).
const (
	TokensApplied    = "applied"
	TokensRefused    = "refused"
	TokensUnreadable = "unreadable"
)

// TokensReloadOutcomes lists them.
var TokensReloadOutcomes = []string{TokensApplied, TokensRefused, TokensUnreadable}

// TokensReload records a change to the tokens file the running server met,
// by its outcome (TokensApplied, TokensRefused, TokensUnreadable).
func (m *Metrics) TokensReload(outcome string) {
	if m == nil {
		return
	}
	m.tokensReloads.WithLabelValues(outcome).Inc()
}

// TokensRead records when the tokens in force were read from the tokens
// file: at start-up, and at each change applied.
func (m *Metrics) TokensRead(at time.Time) {
	if m == nil {
		return
	}
	m.tokensLastReload.Set(float64(at.UnixNano()) / 1e9)
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Store records which store serves (mysql or sqlite) and watches its
// connection pools, named for what they serve (reads, writes, feed).
func (m *Metrics) Store(kind string, pools map[string]*sql.DB) {
	if m == nil {
		return
	}
	for _, c := range m.store {
		m.reg.Unregister(c)
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "store_info",
		Help: "The store this process serves from (value 1).", ConstLabels: prometheus.Labels{"store": kind}})
	info.Set(1)
	m.store = []prometheus.Collector{info}
	for name, db := range pools {
		m.store = append(m.store, collectors.NewDBStatsCollector(db, name)) // go_sql_* with db_name=name
	}
	for _, c := range m.store {
		m.reg.MustRegister(c)
	}
}

// ObserveRequest records one answered HTTP request. A method HTTP does not
// define is labelled "other": a client picks the method, and every label
// value is a series kept for as long as the process runs.
func (m *Metrics) ObserveRequest(route, method string, code int, bytes int, d time.Duration) {
	if m == nil {
		return
	}
	method = methodLabel(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
	m.httpRespBytes.WithLabelValues(route).Add(float64(bytes))
}

// ObserveSubscription records one subscription, a GET answered as
// text/event-stream, once it has ended: it is counted as a request, and its
// life, hours long, is kept apart from the requests' latency.
func (m *Metrics) ObserveSubscription(route string, code int, bytes int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, http.MethodGet, strconv.Itoa(code)).Inc()
	m.subDuration.WithLabelValues(route).Observe(d.Seconds())
	m.httpRespBytes.WithLabelValues(route).Add(float64(bytes))
}

// methodLabel returns method if HTTP defines it (RFC 9110 §9, RFC 5789),
// else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// InFlight adds delta to the requests being answered.
func (m *Metrics) InFlight(delta int) {
	if m == nil {
		return
	}
	m.httpInFlight.Add(float64(delta))
}

// The kinds of conflict an append can meet, as the conflicts metric labels them.
const (
	WrongExpectedVersion = "wrong_expected_version"
	DuplicateEventID     = "duplicate_event_id"
	StreamTypeMismatch   = "stream_type_mismatch"
	IdempotencyKeyReused = "idempotency_key_reused"
)

// ConflictKinds lists them.
var ConflictKinds = []string{WrongExpectedVersion, DuplicateEventID, StreamTypeMismatch, IdempotencyKeyReused}

// Appended records an append that wrote a batch of n events.
func (m *Metrics) Appended(n int) {
	if m == nil {
		return
	}
	m.appendedBatches.Inc()
	m.appendedEvents.Add(float64(n))
}

// Replayed records an append answered from the batch it repeated.
func (m *Metrics) Replayed() {
	if m == nil {
		return
	}
	m.appendReplays.Inc()
}

// Conflict records an append refused for a conflict of the given kind.
func (m *Metrics) Conflict(kind string) {
	if m == nil {
		return
	}
	m.appendConflicts.WithLabelValues(kind).Inc()
}

// GroupCommitted records one group-commit transaction of requests appends.
func (m *Metrics) GroupCommitted(requests int, d time.Duration) {
	if m == nil {
		return
	}
	m.groupSize.Observe(float64(requests))
	m.groupDuration.Observe(d.Seconds())
}

// Statement records a statement sent to the database; kind says which.
func (m *Metrics) Statement(kind string) {
	if m == nil {
		return
	}
	m.statements.WithLabelValues(kind).Inc()
}

// Subscribed adds delta to the open subscriptions of an endpoint (log or stream).
func (m *Metrics) Subscribed(endpoint string, delta int) {
	if m == nil {
		return
	}
	m.subscriptionsOpen.WithLabelValues(endpoint).Add(float64(delta))
}

// Delivered records events written to a subscriber.
func (m *Metrics) Delivered(n int) {
	if m == nil {
		return
	}
	m.delivered.Add(float64(n))
}

// FellBack records a subscriber that left the live feed for the store.
func (m *Metrics) FellBack() {
	if m == nil {
		return
	}
	m.fallbacks.Inc()
}

// Polled records one poll of the live feed that reached head, now.
func (m *Metrics) Polled(head int64, d time.Duration) {
	if m == nil {
		return
	}
	m.feedHead.Set(float64(head))
	m.feedPoll.Observe(d.Seconds())
	m.feedLastPoll.SetToCurrentTime()
}

// PageRead records a page of the log that the live feed read and handed
// out, now: a poll reading a long backlog page after page is not a stalled
// feed, and the last poll's time moves with each page, as /readyz's does.
func (m *Metrics) PageRead() {
	if m == nil {
		return
	}
	m.feedLastPoll.SetToCurrentTime()
}

// PollFailed records one poll of the live feed that failed.
func (m *Metrics) PollFailed() {
	if m == nil {
		return
	}
	m.feedPollFailures.Inc()
}

// The causes of a store error answered to a client, as the store errors
// metric labels them: a fixed few, whatever the error says.
const (
	// CauseUnreachable: the database's address did not answer (a network
	// error: refused, reset, timed out dialling).
	CauseUnreachable = "unreachable"
	// CauseTimeout: the request's time ran out waiting on the database.
	CauseTimeout = "timeout"
	// CauseFull: the database, or the disk beneath it, is full.
	CauseFull = "full"
	// CauseDamaged: the embedded store's file is damaged.
	CauseDamaged = "damaged"
	// CauseOverwritten: the embedded store's file was written over while
	// the service ran.
	CauseOverwritten = "overwritten"
	// CauseRestartNeeded: the embedded store's files changed under the
	// running service (its WAL removed or replaced): only a clean stop and
	// a start mend it.
	CauseRestartNeeded = "restart_needed"
	// CauseNotDurable: the database's settings can lose acknowledged
	// commits, and appends are refused.
	CauseNotDurable = "not_durable"
	// CauseOutcomeUnknown: an append that may have been written (or a
	// retry whose durability could not be confirmed): the ones to
	// reconcile.
	CauseOutcomeUnknown = "outcome_unknown"
	// CauseMissing: the database, a table or a column of one is missing.
	CauseMissing = "missing"
	// CauseRefused: the database refuses the service's user or its
	// writes: a privilege revoked, the account locked or its password
	// expired or changed, the server read-only or in offline_mode, the
	// service's host blocked by the server (FLUSH HOSTS mends it).
	CauseRefused = "refused"
	// CauseStorageFailed: the embedded store's storage failed beneath
	// SQLite (an I/O error on its files, no writable directory for its
	// temporary files): no retry mends it, an operator does.
	CauseStorageFailed = "storage_failed"
	// CauseReplicaOtherLog: the read replica serves another log than the
	// primary's (another server's, or one promoted and written to): reads
	// refused until an operator mends it.
	CauseReplicaOtherLog = "replica_other_log"
	// CauseUnavailable: any other failure of the database (out of
	// resources, a connection lost midway, the embedded file moved, the
	// store closing): the log line says which.
	CauseUnavailable = "unavailable"
)

// StoreErrorCauses lists them.
var StoreErrorCauses = []string{CauseUnreachable, CauseTimeout, CauseFull, CauseDamaged, CauseOverwritten,
	CauseRestartNeeded, CauseStorageFailed, CauseNotDurable, CauseOutcomeUnknown, CauseMissing, CauseRefused, CauseReplicaOtherLog, CauseUnavailable}

// StoreError records a request answered 503 for the database, for cause.
func (m *Metrics) StoreError(cause string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(cause).Inc()
}

// Lag watches how far the slowest open subscription is behind the live
// feed's head, in positions: lag is called at each scrape. A feed made again
// with the same metrics replaces the last one's.
func (m *Metrics) Lag(lag func() int64) {
	if m == nil {
		return
	}
	m.replace(&m.lag, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "subscriptions", Name: "lag_positions",
		Help: "Log head minus the position the slowest open subscription has delivered up to (0 with none open)."},
		func() float64 { return float64(lag()) }))
}

// BodiesInFlight watches the bytes of request bodies being received, which
// TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT bounds: bytes is called at each
// scrape. A server made again with the same metrics replaces the last one's.
func (m *Metrics) BodiesInFlight(bytes func() int64) {
	if m == nil {
		return
	}
	m.replace(&m.bodies, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "http", Name: "request_body_bytes_in_flight",
		Help: "Bytes of request bodies received and held while they are read, all requests together (TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT bounds it)."},
		func() float64 { return float64(bytes()) }))
}

// ConnectionsOpen watches the connections the server holds open, which
// TRIBUTARY_MAX_CONNECTIONS bounds: open is called at each scrape. A server
// made again with the same metrics replaces the last one's.
func (m *Metrics) ConnectionsOpen(open func() int64) {
	if m == nil {
		return
	}
	m.replace(&m.conns, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "http", Name: "connections_open",
		Help: "Connections the server holds open now, subscriptions' included (TRIBUTARY_MAX_CONNECTIONS bounds it)."},
		func() float64 { return float64(open()) }))
}

// ConnectionRefused records a connection refused at bound ("server" or
// "client").
func (m *Metrics) ConnectionRefused(bound string) {
	if m == nil {
		return
	}
	m.connRefused.WithLabelValues(bound).Inc()
}

// ConnectionClosedIdle records an idle connection closed to make room.
func (m *Metrics) ConnectionClosedIdle() {
	if m == nil {
		return
	}
	m.connIdleShut.Inc()
}

// replace registers c in place of *old, if any, and keeps it there.
func (m *Metrics) replace(old *prometheus.Collector, c prometheus.Collector) {
	m.replacing.Lock()
	defer m.replacing.Unlock()
	if *old != nil {
		m.reg.Unregister(*old)
	}
	*old = c
	m.reg.MustRegister(c)
}

// ReplicaLag watches how far the store's read replica is behind the primary,
// in positions: lag is called at each scrape (NaN when it cannot be read).
// A store opened again (the binary retries one whose migration met a
// database not ready) replaces the lag an earlier one registered.
func (m *Metrics) ReplicaLag(lag func() float64) {
	if m == nil {
		return
	}
	m.replace(&m.replica, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "replica", Name: "lag_positions",
		Help: "The primary's log head minus the read replica's: appends the replica has not applied yet (NaN when either does not answer)."},
		lag))
}
