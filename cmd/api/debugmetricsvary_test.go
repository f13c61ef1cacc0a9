package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestTheDebugListenersMetricsSayVaryAcceptOnce: the debug listener's
// /metrics said Vary: Accept twice on its 200 (MetricsHandler's, then the
// exposition's own), one header line saying the same thing again. It says
// it once, on its 200 and on its 406. No store is involved.
func TestTheDebugListenersMetricsSayVaryAcceptOnce(t *testing.T) {
	t.Parallel()
	ask := askDebugMetrics(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, accept := range []string{"", "text/plain", "text/event-stream"} {
			resp, _ := ask(method, accept)
			n := 0
			for _, line := range resp.Header.Values("Vary") {
				for _, name := range strings.Split(line, ",") {
					if strings.EqualFold(strings.TrimSpace(name), "Accept") {
						n++
					}
				}
			}
			if n != 1 {
				t.Errorf("%s /metrics on the debug listener, Accept %q: %d, Vary %q; want Accept named once", method, accept, resp.StatusCode, resp.Header.Values("Vary"))
			}
		}
	}
}
