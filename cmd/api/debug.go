package main

import (
	"net"
	"net/http"
	"net/http/pprof"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// debugHandler serves the runtime profiles of net/http/pprof under
// /debug/pprof/, and the metrics at /metrics without a token. It is served
// only on TRIBUTARY_DEBUG_ADDR, never on the public address; the mux is its
// own, not http.DefaultServeMux, so nothing registered there by an import is
// served either.
func debugHandler(m *metrics.Metrics) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", esthttp.MetricsHandler(m)) // a 406 to an event stream, as the API's
	mux.HandleFunc("/debug/pprof/", pprof.Index)      // also heap, goroutine, … by name
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// isLoopback reports whether a listener's address is reachable only from
// this host.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
