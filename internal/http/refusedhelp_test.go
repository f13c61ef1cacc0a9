package http_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestTheRefusedConnectionsHelpSaysWhatTheyAreAnswered: a liveness probe
// of /healthz refused at a connection bound is answered 200 (an instance at
// its peak must not be restarted) and counted in
// tributary_http_connections_refused_total, whose help said every one it
// counts was "answered 503 and closed at once, with no idle connection to
// close": an operator seeing it rise with no 503 in any client's log, or
// reading it to mean idle connections alone are closed for a new one, was
// misled. The help says what they are answered, the probe's 200 included.
// No store is involved.
func TestTheRefusedConnectionsHelpSaysWhatTheyAreAnswered(t *testing.T) {
	t.Parallel()
	addr, m := fullServerBound(t)
	probe := dialFrom(t, addr, "127.0.0.2")
	probe.sendMethod(t, http.MethodGet, "/healthz")
	if resp, body := probe.answerTo(t, http.MethodGet); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz at the server's bound: %d %s; want 200", resp.StatusCode, body)
	}
	help, counted, scrape := refusedHelp(m)
	if !counted {
		t.Fatalf("a liveness probe refused at the server's bound, answered 200: not counted refused; the scrape:\n%s", scrape)
	}
	if strings.Contains(help, "503") && !strings.Contains(help, "200") {
		t.Errorf("tributary_http_connections_refused_total's help: %q; it counts a liveness probe answered 200, and says every one is answered 503", help)
	}
	if strings.Contains(help, "no idle connection") {
		t.Errorf("tributary_http_connections_refused_total's help: %q; want it to say none could be closed (silent, in its headers, a slow body or a stalled response as well as idle), not that none was idle", help)
	}
}

// fullServerBound starts a server whose connection bound (of 1) is taken by
// a request being served, and returns its address and metrics.
func fullServerBound(t *testing.T) (string, *metrics.Metrics) {
	t.Helper()
	m := metrics.New("test")
	conns := esthttp.NewConnections(1, 1, slog.New(slog.DiscardHandler), m)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	release, held := make(chan struct{}), make(chan struct{}, 1)
	srv := &http.Server{ConnState: conns.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { close(release); srv.Close() })
	dialFrom(t, ln.Addr().String(), "127.0.0.1").send(t, "/block")
	<-held // the one place is taken, by a request being served
	return ln.Addr().String(), m
}

// refusedHelp scrapes m for tributary_http_connections_refused_total's help
// and whether it counted one refusal at the server's bound.
func refusedHelp(m *metrics.Metrics) (help string, counted bool, scrape []byte) {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	scrape, _ = io.ReadAll(rec.Body)
	for _, line := range strings.Split(string(scrape), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP tributary_http_connections_refused_total "); ok {
			help = rest
		}
		counted = counted || line == `tributary_http_connections_refused_total{bound="server"} 1`
	}
	return help, counted, scrape
}

// TestTheRefusedConnectionsHelpSaysASilentOneIsClosedUnanswered: a
// connection refused at a bound that sends no request within the refusal's
// grace is counted in tributary_http_connections_refused_total and closed
// without a byte, but the help said every one it counts is "closed after
// their answer" (only those past 64 being answered closed unanswered): an
// operator seeing the count rise with no answer in any client's log was
// misled. The help says a silent one is closed unanswered. No store is
// involved.
func TestTheRefusedConnectionsHelpSaysASilentOneIsClosedUnanswered(t *testing.T) {
	t.Parallel()
	addr, m := fullServerBound(t)
	silent := dialFrom(t, addr, "127.0.0.2")
	// It sends nothing: the server closes it once its grace is over.
	got, err := io.ReadAll(silent)
	if len(got) != 0 {
		t.Fatalf("a refused connection that sent nothing: answered %q (%v); want it closed unanswered", got, err)
	}
	help, counted, scrape := refusedHelp(m)
	if !counted {
		t.Fatalf("a silent connection refused at the server's bound: not counted refused; the scrape:\n%s", scrape)
	}
	if !strings.Contains(help, "no request") || !strings.Contains(help, "unanswered") {
		t.Errorf("tributary_http_connections_refused_total's help: %q; it counts a connection that sent no request, closed unanswered, and must say so", help)
	}
}
