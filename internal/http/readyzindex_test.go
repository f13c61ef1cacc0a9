package http_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestReadyzStaysReadyWhileAnIndexOfTheFilteredReadsIsMissing: with one of
// the indexes that only the reads of the log filtered on stream or event
// types use dropped (by hand, in a shell), /readyz answered 503 with those
// reads, on every instance on the database alike: a load balancer took them
// all out, and a partial degradation (appends, stream reads, unfiltered
// reads all served) became a whole outage. The filtered reads still answer
// 503 naming the index; /readyz answers 200, and its body names the index
// (filtered_reads, missing_index), as it says appends refused, until it is
// made again. On both stores, its answers checked against the contract.
func TestReadyzStaysReadyWhileAnIndexOfTheFilteredReadsIsMissing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		logs := &testlog.Buffer{}
		srv := httptest.NewServer(esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewTextHandler(logs, nil))}))
		t.Cleanup(srv.Close)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}, store: store}
		readyz := func(what string) map[string]any {
			t.Helper()
			r := s.do(http.MethodGet, "/readyz", "")
			var got map[string]any
			if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got["status"] != "ok" {
				t.Fatalf("/readyz %s: %d %s; want 200 with status ok", what, r.status, r.body)
			}
			return got
		}
		stream := uuid.NewString()
		appendBody := `{"stream_type":"thing","events":[{"type":"Happened","data":1}]}`
		if r := s.do(http.MethodPost, "/streams/"+stream+"/events", appendBody); r.status != http.StatusCreated {
			t.Fatalf("an append: %d %s", r.status, r.body)
		}
		const index = "events_stream_type_position"
		k.Exec(t, store, "DROP INDEX "+index+map[string]string{"mysql": " ON events", "sqlite": ""}[k.Name])

		filtered := "/events?stream_type=thing,other"
		if r := s.do(http.MethodGet, filtered, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("a read filtered on two stream types, %s dropped: %d %s; want 503", index, r.status, r.body)
		}
		for range 2 {
			got := readyz("with " + index + " dropped")
			if got["filtered_reads"] != "refused" || got["missing_index"] != index {
				t.Errorf("/readyz with %s dropped: %v; want filtered_reads refused and missing_index %s", index, got, index)
			}
		}
		if !strings.Contains(logs.String(), "that use it answer 503 until it is made again, not every filtered read") {
			t.Errorf("/readyz's WARN with %s dropped must say only the filtered reads that use it are refused, not all:\n%s", index, logs.String())
		}
		if n := strings.Count(logs.String(), "level=WARN msg=\"readyz: an index of the database's is missing"); n != 1 {
			t.Errorf("two /readyz with %s dropped logged %d WARN lines naming it; want one:\n%s", index, n, logs.String())
		}
		// Its 200 saying a part is refused is a degraded state: its access
		// line is at INFO (the default level), not DEBUG as a passing probe's.
		readyzLine := func() string {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "msg=request") && strings.Contains(line, "route=/readyz") {
					return line
				}
			}
			return ""
		}
		for deadline := time.Now().Add(10 * time.Second); readyzLine() == "" && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if line := readyzLine(); !strings.Contains(line, "level=INFO") || !strings.Contains(line, "status=200") {
			t.Errorf("/readyz's 200 with %s dropped: access line %q; want one at INFO", index, line)
		}
		for what, path := range map[string]string{"an unfiltered read": "/events", "a stream's read": "/streams/" + stream + "/events"} {
			if r := s.do(http.MethodGet, path, ""); r.status != http.StatusOK {
				t.Errorf("%s, %s dropped: %d %s; want 200", what, index, r.status, r.body)
			}
		}
		if r := s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", appendBody); r.status != http.StatusCreated {
			t.Errorf("an append, %s dropped: %d %s; want 201", index, r.status, r.body)
		}

		_, err := store.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1, StreamTypes: []string{"thing", "other"}})
		var missing *eventstore.MissingError
		if !errors.As(err, &missing) || missing.Create == "" {
			t.Fatalf("the store's filtered read: %v; want the MissingError with the statement that makes it again", err)
		}
		k.Exec(t, store, missing.Create)
		got := readyz("once " + index + " is made again")
		if _, ok := got["missing_index"]; ok {
			t.Errorf("/readyz once %s is made again: %v; want no missing_index", index, got)
		}
		if r := s.do(http.MethodGet, filtered, ""); r.status != http.StatusOK {
			t.Errorf("the filtered read once %s is made again: %d %s; want 200", index, r.status, r.body)
		}
		if !strings.Contains(logs.String(), "readyz: the index of the filtered reads is there again") {
			t.Errorf("/readyz once %s is made again logged no line saying so:\n%s", index, logs.String())
		}
	})
}
