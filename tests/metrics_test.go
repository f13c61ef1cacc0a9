package tests

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics (with the given header pairs) and returns each
// sample's value by name and labels, written as name{k="v",…} with the
// labels in Prometheus's order; a histogram gives its _count and _sum.
func scrape(t *testing.T, s *server, header ...string) map[string]float64 {
	t.Helper()
	r := s.get(t, "/metrics", header...)
	requireStatus(t, r, http.StatusOK)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("GET /metrics: not Prometheus's text format: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name + labelsOf(m)
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+labelsOf(m)] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labelsOf(m)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func labelsOf(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestMetricsCountAScriptedRun: after appends, reads, a conflict, a replay
// and a subscription, each counter has moved by exactly what was done.
func TestMetricsCountAScriptedRun(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *server) {
		before := scrape(t, s)
		stream := newID()
		batch := appendBody{StreamType: "order", Events: events(3, "Placed")}
		s.mustAppend(t, stream, batch)                                                    // 3 events, 1 batch
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "X")}) // 2 events, 1 batch
		requireStatus(t, s.post(t, "/streams/"+stream+"/events", batch), http.StatusOK)   // a replay
		requireProblem(t, s.post(t, "/streams/"+stream+"/events", appendBody{Events: events(1, "Late")}, "If-Match", `"1"`),
			http.StatusConflict, "wrong-expected-version")
		requireStatus(t, s.get(t, "/streams/"+stream+"/events"), http.StatusOK)
		requireStatus(t, s.get(t, "/events"), http.StatusOK)
		sub := subscribe(t, s, "/events?after=0")
		sub.requireRetry(t)
		sub.requireEvents(t, false, 1, 2, 3, 4, 5)
		sub.requireCaughtUp(t, 5)
		after := scrape(t, s)
		moved := func(key string) float64 { return after[key] - before[key] }
		// On MySQL, the writer sends a group whose stream it knows from its
		// last commit in one round trip, guarded: the replay went so first,
		// and its events' unique key stopped the batch after INSERT, before
		// COMMIT; it was then read afresh. Its statements were sent.
		guarded := 0.0
		if s.DSN != "" {
			guarded = 1
		}
		for key, want := range map[string]float64{
			"tributary_append_events_total":                                                              5,
			"tributary_append_batches_total":                                                             2,
			"tributary_append_replays_total":                                                             1,
			`tributary_append_conflicts_total{kind="wrong_expected_version"}`:                            1,
			`tributary_append_conflicts_total{kind="duplicate_event_id"}`:                                0,
			"tributary_group_commit_requests_count":                                                      2,
			`tributary_db_statements_total{kind="insert_events"}`:                                        2 + guarded,
			`tributary_db_statements_total{kind="commit"}`:                                               2 + guarded,
			`tributary_db_statements_total{kind="lock_head"}`:                                            4,
			`tributary_db_statements_total{kind="guard_head"}`:                                           guarded,
			`tributary_db_statements_total{kind="set_session"}`:                                          guarded,
			`tributary_db_statements_total{kind="wait_for_locks"}`:                                       4 * guarded, // before each read phase (MySQL)
			`tributary_db_statements_total{kind="refuse_locks"}`:                                         2 * guarded, // before each write phase that read first
			`tributary_http_requests_total{code="201",method="POST",route="/streams/{streamID}/events"}`: 2,
			`tributary_http_requests_total{code="200",method="POST",route="/streams/{streamID}/events"}`: 1,
			`tributary_http_requests_total{code="409",method="POST",route="/streams/{streamID}/events"}`: 1,
			`tributary_http_requests_total{code="200",method="GET",route="/streams/{streamID}/events"}`:  1,
			`tributary_http_requests_total{code="200",method="GET",route="/events"}`:                     1,
			"tributary_subscriptions_events_delivered_total":                                             5,
			`tributary_subscriptions_open{endpoint="log"}`:                                               1,
		} {
			if got := moved(key); got != want {
				t.Errorf("%s moved by %v over the scripted run; expected %v", key, got, want)
			}
		}
		if after["tributary_feed_head_position"] != 5 {
			t.Errorf("tributary_feed_head_position = %v; expected 5, the log's head", after["tributary_feed_head_position"])
		}
		if after["tributary_subscriptions_lag_positions"] != 0 {
			t.Errorf("tributary_subscriptions_lag_positions = %v with the one subscriber caught up; expected 0", after["tributary_subscriptions_lag_positions"])
		}
		wantStore := "sqlite"
		if s.DSN != "" {
			wantStore = "mysql"
		}
		if after[`tributary_store_info{store="`+wantStore+`"}`] != 1 {
			t.Errorf("expected tributary_store_info{store=%q} 1", wantStore)
		}
		for _, pool := range []string{"reads", "writes", "feed"} {
			if _, ok := after[`go_sql_max_open_connections{db_name="`+pool+`"}`]; !ok {
				t.Errorf("expected the %s pool's statistics (go_sql_max_open_connections{db_name=%q})", pool, pool)
			}
		}
	})
}

// TestMetricsNeedAReadTokenOnThePublicAddressAndNoneOnTheDebugOne.
func TestMetricsNeedAReadTokenOnThePublicAddressAndNoneOnTheDebugOne(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=dash:read:metrics-reader-token",
		"TRIBUTARY_DEBUG_ADDR=127.0.0.1:0")
	requireProblem(t, s.get(t, "/metrics"), http.StatusUnauthorized, "unauthorized")
	if m := scrape(t, s, "Authorization", "Bearer metrics-reader-token"); len(m) == 0 {
		t.Fatal("GET /metrics with a read token: no metrics")
	}
	debug := ""
	for _, l := range s.logLines() {
		if l["msg"] == "debug listening" {
			debug, _ = l["addr"].(string)
		}
	}
	if debug == "" {
		t.Fatal(`expected a "debug listening" log line with the debug address`)
	}
	res, err := http.Get("http://" + debug + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics on the debug listener without a token: %d; expected 200", res.StatusCode)
	}
}
