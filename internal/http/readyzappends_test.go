package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// refusingAppends is a real store whose appends are refused with the error
// set, if any: a full disk, or a MySQL server restarted with unsafe
// durability settings, which refuse every append while reads and the
// store's Ping go on.
type refusingAppends struct {
	eventstore.Store
	err atomic.Pointer[error]
}

func (s *refusingAppends) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := s.err.Load(); err != nil && *err != nil {
		return eventstore.AppendResult{}, *err
	}
	return s.Store.Append(ctx, req)
}

// TestReadyzSaysWhenAppendsAreRefused: through a full disk on the embedded
// store, or a MySQL server restarted with settings that can lose commits,
// every append was refused while /readyz answered {"status":"ok"}, and
// nothing an operator's probe reads told it (an operator tester). /readyz
// still answers 200 (reads are served, and every instance on the database
// is refused alike: a 503 would take the reads out of the load balancer
// too), but its body says appends are refused and why, from the last
// append this instance answered, until one is written again. On both stores.
func TestReadyzSaysWhenAppendsAreRefused(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &refusingAppends{Store: k.Open(t)}
		s := newServer(t, nil, store)
		body := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
		readyz := func(what string) map[string]any {
			t.Helper()
			r := s.do(http.MethodGet, "/readyz", "")
			var got map[string]any
			if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got["status"] != "ok" {
				t.Fatalf("/readyz %s: %d %s; want 200 with status ok", what, r.status, r.body)
			}
			return got
		}
		expectStatus(t, "an append", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusCreated)
		if got := readyz("with appends written"); len(got) != 1 {
			t.Errorf("/readyz with appends written: %v; want only the status", got)
		}
		for _, tc := range []struct {
			cause, says string
			err         error
		}{
			{"full", "full", fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)},
			{"not_durable", "durab", fmt.Errorf("append to x: %w: %w: innodb_flush_log_at_trx_commit is 2", eventstore.ErrUnavailable, eventstore.ErrNotDurable)},
		} {
			store.err.Store(&tc.err)
			expectStatus(t, "an append refused ("+tc.cause+")", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusServiceUnavailable)
			got := readyz("with appends refused (" + tc.cause + ")")
			reason, _ := got["reason"].(string)
			if got["appends"] != "refused" || got["cause"] != tc.cause || !strings.Contains(strings.ToLower(reason), tc.says) || strings.Contains(reason, "innodb_flush") || strings.Contains(reason, "no space") {
				t.Errorf("/readyz with every append refused (%s): %v; want appends refused, cause %q, and a reason of its own saying %q (not the error's text)", tc.cause, got, tc.cause, tc.says)
			}
			expectStatus(t, "a read with appends refused", s.do(http.MethodGet, "/events", ""), http.StatusOK)
			var none error
			store.err.Store(&none)
			expectStatus(t, "an append once the database takes them again", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusCreated)
			if got := readyz("once an append is written again (" + tc.cause + ")"); len(got) != 1 {
				t.Errorf("/readyz once an append is written again: %v; want only the status", got)
			}
		}
	})
}
