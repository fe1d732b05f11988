package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons a client message is counted as rejected.
const (
	rejectBadRequest  = "bad_request"
	rejectPeerOffline = "peer_offline"
	rejectRateLimited = "rate_limited"
	rejectTooLarge    = "too_large"
	rejectNotMember   = "not_member"
)

// metrics lives in a private registry so several servers (tests) can exist
// in one process and nothing leaks through the global registry.
type metrics struct {
	reg          *prometheus.Registry
	connections  prometheus.Gauge
	joins        *prometheus.CounterVec
	relayed      prometheus.Counter
	rejected     *prometheus.CounterVec
	roomsCreated prometheus.Counter
	httpLimited  *prometheus.CounterVec
	restores     *prometheus.CounterVec
	capRefused   *prometheus.CounterVec
}

func newMetrics(rooms func() int, turnAllocations func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_signal_connections",
			Help: "Open WebSocket connections.",
		}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signal_joins_total",
			Help: "Join attempts by result: ok or the error code sent.",
		}, []string{"result"}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_signal_messages_relayed_total",
			Help: "Signal messages delivered to the other participant.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signal_messages_rejected_total",
			Help: "Client messages not relayed, by reason.",
		}, []string{"reason"}),
		roomsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_signal_rooms_created_total",
			Help: "Rooms created.",
		}),
		httpLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signal_rate_limited_total",
			Help: "Requests refused by the per-IP rate limits, by endpoint.",
		}, []string{"endpoint"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signal_rooms_restored_total",
			Help: "Rooms brought back from a room ticket after the server lost them (a restart), by result: ok, bad_ticket or the error code.",
		}, []string{"result"}),
		capRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signal_client_cap_refused_total",
			Help: "Requests refused because the client (IPv4 address, IPv6 /64 or /48) holds its share, by resource (conns, rooms) and scope (ip, net48).",
		}, []string{"resource", "scope"}),
	}
	m.reg.MustRegister(
		m.connections, m.joins, m.relayed, m.rejected, m.roomsCreated, m.httpLimited, m.restores, m.capRefused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_signal_rooms",
			Help: "Live rooms.",
		}, func() float64 { return float64(rooms()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if turnAllocations != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_signal_turn_allocations",
			Help: "Live allocations on the embedded TURN relay.",
		}, func() float64 { return float64(turnAllocations()) }))
	}
	// Export every known series from the start, so dashboards and alerts
	// see 0 rather than "no data" before the first event.
	for _, r := range []string{rejectBadRequest, rejectPeerOffline, rejectRateLimited, rejectTooLarge, rejectNotMember} {
		m.rejected.WithLabelValues(r)
	}
	m.joins.WithLabelValues("ok")
	m.restores.WithLabelValues("ok")
	for _, e := range []string{"create", "ws", "get"} {
		m.httpLimited.WithLabelValues(e)
	}
	for _, r := range []string{capConns, capRooms} {
		for _, sc := range []string{scopeIP, scopeNet48} {
			m.capRefused.WithLabelValues(r, sc)
		}
	}
	return m
}

// watchCaps exports the size of the per-client cap tables, whose memory
// grows with the number of clients.
func (m *metrics) watchCaps(connClients func() int, roomCounts func() (rooms, clients int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_signal_conn_cap_clients",
			Help: "Clients (IPv4 addresses, IPv6 /64s and /48s) holding WebSocket connections, as the per-client cap counts them.",
		}, func() float64 { return float64(connClients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_signal_room_cap_tracked",
			Help: "Rooms created through this node that the per-client room cap still counts (ended ones are forgotten lazily).",
		}, func() float64 { r, _ := roomCounts(); return float64(r) }),
	)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// turnRefusedDesc is parley_signal_turn_refused_total.
var turnRefusedDesc = prometheus.NewDesc("parley_signal_turn_refused_total",
	"What the embedded TURN relay refused, by reason: credential, room_ended, peer, peer_port, quota_credential, quota_ip, tcp_allocation, tcp_conn_limit.",
	[]string{"reason"}, nil)

// turnRefusedCollector exports the relay's own counters at scrape time.
type turnRefusedCollector func() map[string]int64

func (c turnRefusedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- turnRefusedDesc }

func (c turnRefusedCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c() {
		ch <- prometheus.MustNewConstMetric(turnRefusedDesc, prometheus.CounterValue, float64(n), reason)
	}
}
