package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// TestNoCallQuotesTheServerURLsUserInformation: a base URL with user
// information (https://TOKEN@host, https://user:password@host, for a
// gateway that takes Basic authentication) is accepted, and net/http sends
// it as Basic authentication; but net/http quotes a request's URL in its
// errors with the user name whole (and the password masked), so every
// network error of every call, and every reason OnDisconnect was told,
// carried the token or user name into the caller's logs, as New's own
// error no longer does. The user information now goes only into the
// Authorization field, as before, and no error quotes it.
func TestNoCallQuotesTheServerURLsUserInformation(t *testing.T) {
	t.Parallel()
	closed := freeport.Addr(t) // nothing listens there: every call fails to connect
	for _, userinfo := range []string{"s3cret-user:hunter2@", "hunter2@"} {
		c := newClient(t, "http://"+userinfo+closed)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var errs []error
		_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: 1})
		errs = append(errs, err)
		_, err = c.Stream(ctx, uuid.New())
		errs = append(errs, err)
		for _, err := range c.ReadAll(ctx, ReadAllOptions{}) {
			errs = append(errs, err)
		}
		for _, err := range c.ReadStream(ctx, uuid.New(), ReadStreamOptions{}) {
			errs = append(errs, err)
		}
		var mu sync.Mutex
		subCtx, stop := context.WithCancel(ctx)
		for range c.Subscribe(subCtx, SubscribeOptions{MinBackoff: time.Millisecond, OnDisconnect: func(err error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			stop()
		}}) {
		}
		stop()
		mu.Lock()
		for i, err := range errs {
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: call %d: %v; expected a network error", userinfo, i, err)
			} else if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret-user") {
				t.Errorf("%s: call %d: %v; expected an error that does not quote the user information", userinfo, i, err)
			}
		}
		mu.Unlock()
	}
	// It is still sent, as Basic authentication, but for a token, which
	// takes Authorization for itself.
	var got []string
	var mu sync.Mutex
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "no", http.StatusTeapot)
	})
	base := strings.Replace(srv.URL, "http://", "http://s3cret-user:hunter2@", 1)
	for _, opts := range [][]Option{nil, {WithToken("t0k")}} {
		c := newClient(t, base, opts...)
		c.Stream(context.Background(), uuid.New()) //nolint:errcheck // what counts is what was sent
	}
	want := []string{"Basic czNjcmV0LXVzZXI6aHVudGVyMg==", "Bearer t0k"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization sent: %q; expected %q, the user information without a token, the token with one", got, want)
	}
}
