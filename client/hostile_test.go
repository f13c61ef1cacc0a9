package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAppendRedirectedToAGetIsNotASuccess: a 301, 302 or 303 (an http →
// https redirect of a proxy in front of the server) makes net/http send
// the append again as a GET, whose answer, the stream's page, decoded as an
// AppendResult: Append reported a duplicate, stored before, for a batch
// that was never sent.
func TestAppendRedirectedToAGetIsNotASuccess(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					http.Redirect(w, r, "/elsewhere"+r.URL.Path, code)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"stream_id":"`+id.String()+`","stream_type":"order","version":1,"events":[{"id":"`+uuid.NewString()+`","version":1,"position":1,"recorded_at":"2026-12-04T00:00:00Z"}]}`) //nolint:errcheck // a test's answer
			}))
			t.Cleanup(srv.Close)
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			if err == nil {
				t.Fatalf("an append answered %d, followed as a GET, = %+v, nil; expected an error: nothing was stored", code, res)
			}
		})
	}
}

// TestAppendTakesOnly200Or201ForAnAnswer: an append answered with another
// status below 400 (202, 204, a 3xx not followed) is not stored as far as
// the client knows, but a JSON object there decoded into a result, with
// version 0, and an error-free return.
func TestAppendTakesOnly200Or201ForAnAnswer(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusAccepted, http.StatusNoContent, http.StatusMultipleChoices, http.StatusNotModified} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				io.WriteString(w, `{}`) //nolint:errcheck // a test's answer
			}))
			t.Cleanup(srv.Close)
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			if err == nil {
				t.Fatalf("an append answered %d = %+v, nil; expected an error", code, res)
			}
			if errors.Is(err, ErrBadRequest) {
				t.Fatalf("an append answered %d: %v; expected an error that is no refusal", code, err)
			}
		})
	}
}
