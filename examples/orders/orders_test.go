package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

// The example against a real server is tested in tests/examples_test.go;
// these are the parts that need none.

func TestRunRejectsBadFlagsBeforeDoingAnything(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-orders", "-1"}, "-orders"},
		{[]string{"-orders", "100000"}, "-orders"},
		{[]string{"-orders", "2", "extra"}, `"extra"`},
		{[]string{"-server", "localhost:8080"}, "http(s)://"},
	} {
		// Port 1 refuses connections: a run that got as far as the
		// server would fail, but with a connection error instead.
		args := append([]string{"-server", "http://127.0.0.1:1"}, tc.args...)
		err := run(context.Background(), args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("orders %s: expected an error naming %s, got %v", strings.Join(tc.args, " "), tc.want, err)
		}
	}
}

func TestRunAnswersHelpWithoutAnError(t *testing.T) {
	t.Parallel()
	if err := run(context.Background(), []string{"-h"}, io.Discard); err != nil {
		t.Errorf("orders -h: expected the flags listed and no error (exit status 0), got %v", err)
	}
}

// sseServer answers every subscription with frames, then holds the
// connection open until the client goes.
func sseServer(t *testing.T, frames string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, frames) //nolint:errcheck // the test sees what arrived
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func eventFrame(order uuid.UUID, version, position int64, typ, data string) string {
	return fmt.Sprintf("id: %d\ndata: {\"id\":%q,\"stream_id\":%q,\"stream_type\":\"order\",\"version\":%d,\"position\":%d,\"type\":%q,\"data\":%s}\n\n",
		position, uuid.New(), order, version, position, typ, data)
}

// TestProjectionStopsAtAnEventItCannotDecode: skipping the event would
// leave the read model wrong for good, with nothing to show it; stopping
// before it leaves the position at the event before, where a restarted
// projection resumes once the decoding is fixed.
func TestProjectionStopsAtAnEventItCannotDecode(t *testing.T) {
	t.Parallel()
	order := uuid.New()
	c := sseServer(t, "retry: 100\n\n"+
		eventFrame(order, 1, 1, "OrderPlaced", `{"customer":"c"}`)+
		eventFrame(order, 2, 2, "LineAdded", `{"sku":"A-1","qty":"two","price":10}`)+
		eventFrame(order, 3, 3, "LineAdded", `{"sku":"B-2","qty":1,"price":5}`)+
		"event: caught-up\ndata: 3\n\n")
	m := newReadModel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := m.follow(ctx, c)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "position 2") {
		t.Errorf("expected the projection to stop with an error naming position 2, got %v", err)
	}
	v, _ := m.get(order)
	if m.position != 1 || v.Lines != 0 || v.Total != 0 {
		t.Errorf("expected the model left at position 1 with no line, got position %d and %+v", m.position, v)
	}
}
