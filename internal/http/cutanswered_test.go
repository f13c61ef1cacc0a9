package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// committingAtCut is a store whose Append waits until release is closed and
// then commits, whatever became of its context: an append whose COMMIT was on
// its way when the stop's Cut ended its request's context, as the writer
// does once a group's COMMIT is sent.
type committingAtCut struct {
	eventstore.Store
	entered chan struct{}
	release chan struct{}
}

func (s *committingAtCut) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.Append(context.WithoutCancel(ctx), req)
}

// appendAsync sends one append to url and returns its status on the channel
// (0 if no answer came).
func appendAsync(url string) <-chan int {
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/streams/"+uuid.NewString()+"/events",
			strings.NewReader(`{"stream_type":"t","events":[{"type":"Committed","data":{}}]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return status
}

// TestAnAppendAnsweredAfterTheCutIsLoggedWithTheStatusItWasAnswered: Cut
// ends every running request's context and the stop gives the handlers
// time to answer before it closes their connections. An append that
// committed in that time was answered 201 to its client, but its access
// line and metric said 503 "cut": an operator reading the log after a stop
// took it for an append not written. It is logged with the status it was
// answered, at INFO; one still running when the connections close
// (ClosingConnections) is logged as cut, 503 at WARN. On both stores.
func TestAnAppendAnsweredAfterTheCutIsLoggedWithTheStatusItWasAnswered(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		t.Run("answered in the window", func(t *testing.T) {
			store := &committingAtCut{Store: k.Open(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
			logs := &testlog.Buffer{}
			h := esthttp.New(store, esthttp.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			status := appendAsync(srv.URL)
			<-store.entered
			h.Cut() // the stop's cut: the handler has half of what is left to answer
			close(store.release)
			got := <-status
			waitHandlers(t, h)
			h.ClosingConnections() // the stop closes the connections now: nothing runs
			lines := appendLines(t, logs)
			if got != http.StatusCreated {
				t.Fatalf("the client got %d; want 201 (the append committed)", got)
			}
			if len(lines) != 1 || lines[0].Status != http.StatusCreated || lines[0].Level != "INFO" {
				t.Errorf("an append answered 201 after the cut is logged %+v; want one line with status 201 at INFO\n%s", lines, logs.String())
			}
		})
		t.Run("still running at the close", func(t *testing.T) {
			store := &committingAtCut{Store: k.Open(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
			logs := &testlog.Buffer{}
			h := esthttp.New(store, esthttp.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			status := appendAsync(srv.URL)
			<-store.entered
			h.Cut()
			h.ClosingConnections() // its answer window over, the handler still held
			srv.CloseClientConnections()
			if got := <-status; got != 0 {
				t.Fatalf("the client got %d with its connection closed under it; want no answer", got)
			}
			close(store.release)
			waitHandlers(t, h)
			lines := appendLines(t, logs)
			if len(lines) != 1 || lines[0].Status != http.StatusServiceUnavailable || lines[0].Level != "WARN" {
				t.Errorf("an append still running as its connection closed is logged %+v; want one line with status 503 (cut) at WARN\n%s", lines, logs.String())
			}
		})
	})
}

// waitHandlers waits for every handler of h to return.
func waitHandlers(t *testing.T, h *esthttp.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
