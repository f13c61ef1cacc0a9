package http_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestADatabaseThatRefusesTheUserOrItsWritesIsCountedAsRefused: a
// privilege revoked, an account locked or its password expired, a server
// read-only were counted as unavailable, with every other outage, because
// the store marked them no way but in words. The store marks them
// eventstore.ErrRefused (mysqlstore's TestARealRefusalIsMarkedRefused),
// and they are counted as refused; still a 503. The errors are as the
// MySQL store makes them.
func TestADatabaseThatRefusesTheUserOrItsWritesIsCountedAsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		append bool
	}{
		{"an append to a read-only server", fmt.Errorf("append to x: %w: %w: the database refuses writes (read-only): Error 1290",
			eventstore.ErrUnavailable, eventstore.ErrRefused), true},
		{"a read by a user whose account is locked", fmt.Errorf("read: %w: %w: the database refuses the DSN's user a new session: its account is locked: Error 4151",
			eventstore.ErrUnavailable, eventstore.ErrRefused), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := metricsServer(t, failingStore{err: tc.err}, esthttp.Options{})
			before := storeErrors(t, s)
			var r response
			if tc.append {
				r = s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`)
			} else {
				r = s.do(http.MethodGet, "/events", "")
			}
			if r.status != http.StatusServiceUnavailable {
				t.Fatalf("%s: %d, want 503\n%s", tc.name, r.status, r.body)
			}
			expectCounted(t, tc.name, before, storeErrors(t, s), metrics.CauseRefused)
		})
	}
}
