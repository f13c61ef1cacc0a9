package client

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryProblemTypeOfTheContractIsItsSentinel: each problem type the
// contract lists (api/openapi.yaml) is an Err… value a caller can match
// with errors.Is. method-not-allowed, precondition-failed,
// request-timeout, unsupported-media-type and internal matched none: a
// caller could tell them apart only by the Problem's Type string. Each is
// the real handler's answer, on both stores, to a request a gateway in
// front bent into one it refuses so; and the contract lists no type this
// test leaves out.
func TestEveryProblemTypeOfTheContractIsItsSentinel(t *testing.T) {
	t.Parallel()
	contract, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(contract), "\n") {
		if _, ty, ok := strings.Cut(line, "enum: ["+problemBase); ok {
			listed[strings.TrimSuffix(strings.TrimSpace(ty), "]")] = true
		}
	}
	// The types a test elsewhere gets from the real server.
	for _, ty := range []string{"wrong-expected-version", "duplicate-event-id", "idempotency-key-reused", "stream-type-mismatch",
		"starting-point-ahead", "not-found", "unauthorized", "forbidden", "unavailable", "bad-request", "too-large",
		"not-implemented"} { // the real server's connections: TestANotImplementedTransferEncodingIsErrNotImplemented
		if problemErrors[ty] == nil {
			t.Errorf("problem type %s has no sentinel", ty)
		}
		delete(listed, ty)
	}
	for _, tc := range []struct {
		ty   string
		want error
		// bend changes the request on its way to the server.
		bend func(r *http.Request)
		// call is the client's request.
		call func(c *Client, id uuid.UUID) error
	}{
		{"method-not-allowed", ErrMethodNotAllowed,
			func(r *http.Request) { r.Method = http.MethodPut },
			func(c *Client, id uuid.UUID) error { _, err := c.Stream(context.Background(), id); return err }},
		{"precondition-failed", ErrPreconditionFailed,
			func(r *http.Request) { r.Header.Set("If-Match", `"99"`) },
			func(c *Client, id uuid.UUID) error { _, err := c.Stream(context.Background(), id); return err }},
		{"request-timeout", ErrServerRequestTimeout,
			func(r *http.Request) { r.Body = timingOutBody{} },
			func(c *Client, id uuid.UUID) error {
				_, err := c.Append(context.Background(), StreamRef{ID: id}, Any, NewEvent{Type: "Noted", Data: 2})
				return err
			}},
		{"unsupported-media-type", ErrUnsupportedMediaType,
			func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			func(c *Client, id uuid.UUID) error {
				_, err := c.Append(context.Background(), StreamRef{ID: id}, Any, NewEvent{Type: "Noted", Data: 2})
				return err
			}},
		{"not-acceptable", ErrNotAcceptable,
			func(r *http.Request) { r.Header.Set("Accept", "text/event-stream") },
			func(c *Client, id uuid.UUID) error { _, err := c.Stream(context.Background(), id); return err }},
		{"internal", ErrInternal,
			func(r *http.Request) { r.Header.Set("X-Fail", "1") },
			func(c *Client, id uuid.UUID) error { _, err := c.Stream(context.Background(), id); return err }},
	} {
		delete(listed, tc.ty)
		t.Run(tc.ty, func(t *testing.T) {
			t.Parallel()
			teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
				h := handlerOf(t, failingOnAsk{k.Open(t)}, time.Second)
				bent := false
				srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("X-Bend") != "" {
						bent = true
						tc.bend(r)
					}
					h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), failKey{}, r.Header.Get("X-Fail") != "")))
				})
				c := newClient(t, srv.URL)
				id := uuid.New()
				if _, err := c.Append(context.Background(), StreamRef{ID: id, Type: "note"}, NoStream, NewEvent{Type: "Noted", Data: 1}); err != nil {
					t.Fatal(err)
				}
				bending, _ := New(srv.URL, WithHTTPClient(&http.Client{Transport: headerSetter{"X-Bend", "1"}}))
				err := tc.call(bending, id)
				var p *Problem
				if !errors.As(err, &p) || p.Type != problemBase+tc.ty || !bent {
					t.Fatalf("the bent request gave %v (%+v); expected the server's %s problem", err, p, tc.ty)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("a %s problem (%v) is not %v", tc.ty, err, tc.want)
				}
				for ty, other := range problemErrors {
					if ty != tc.ty && errors.Is(err, other) {
						t.Errorf("a %s problem is %v too", tc.ty, other)
					}
				}
			})
		})
	}
	for ty := range listed {
		t.Errorf("the contract lists problem type %s, which this test does not check", ty)
	}
}

// headerSetter sends every request with one more header.
type headerSetter struct{ name, value string }

func (h headerSetter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// timingOutBody is a request body whose bytes never come in time, as the
// server's read deadline ends its read.
type timingOutBody struct{}

func (timingOutBody) Read([]byte) (int, error) { return 0, timeoutError{} }
func (timingOutBody) Close() error             { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// failKey marks a request context whose store reads fail (failingOnAsk).
type failKey struct{}

// failingOnAsk is a store whose Stream fails with an error the server
// does not know, for a request marked so, as a database's unforeseen
// failure would.
type failingOnAsk struct{ eventstore.Store }

func (s failingOnAsk) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if fail, _ := ctx.Value(failKey{}).(bool); fail {
		return eventstore.Stream{}, errors.New("the disk is on fire")
	}
	return s.Store.Stream(ctx, id)
}
