package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

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

// listenedAddr returns the address a listener on configured is logged at,
// and bound, the listener's own where it reads otherwise. 0.0.0.0:6060 was
// logged [::]:6060 (Go's dual-stack listener takes both families and says
// the IPv6 one), and an operator looking for what was set found another
// address. The host is as configured; the port as bound, a number where 0
// (any) or a service's name was asked. bound is "" where it adds nothing.
func listenedAddr(configured string, ln net.Addr) (logged, bound string) {
	bound = ln.String()
	host, _, err := net.SplitHostPort(configured)
	tcp, ok := ln.(*net.TCPAddr)
	if err != nil || !ok {
		return bound, ""
	}
	logged = net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	if logged == bound {
		return logged, ""
	}
	return logged, bound
}

// boundAttr is the listening lines' "bound" attribute, listenedAddr's
// bound; none (an attribute the log leaves out) where that is "".
func boundAttr(bound string) slog.Attr {
	if bound == "" {
		return slog.Attr{}
	}
	return slog.String("bound", bound)
}
