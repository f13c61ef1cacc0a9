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
	silent := dialFrom(t, ln.Addr().String(), "127.0.0.2")
	// It sends nothing: the server closes it once its grace is over.
	got, err := io.ReadAll(silent)
	if len(got) != 0 {
		t.Fatalf("a refused connection that sent nothing: answered %q (%v); want it closed unanswered", got, err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	scrape, _ := io.ReadAll(rec.Body)
	var help string
	counted := false
	for _, line := range strings.Split(string(scrape), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP tributary_http_connections_refused_total "); ok {
			help = rest
		}
		counted = counted || line == `tributary_http_connections_refused_total{bound="server"} 1`
	}
	if !counted {
		t.Fatalf("a silent connection refused at the server's bound: not counted refused; the scrape:\n%s", scrape)
	}
	if !strings.Contains(help, "no request") || !strings.Contains(help, "unanswered") {
		t.Errorf("tributary_http_connections_refused_total's help: %q; it counts a connection that sent no request, closed unanswered, and must say so", help)
	}
}
