package http

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// pingFailing is a store whose Ping fails with *fail while it is set.
type pingFailing struct {
	eventstore.Store
	fail atomic.Pointer[error]
}

func (s *pingFailing) Ping(ctx context.Context) error {
	if err := s.fail.Load(); err != nil {
		return *err
	}
	return s.Store.Ping(ctx)
}

// TestReadyzLogsAChangedCauseOfAnOutageOnceThrottled: /readyz's 503 for
// the database logged its first cause once at warning level, and nothing
// of a later one: an outage whose server came back refusing the service's
// user (its privileges revoked meanwhile) still read "unreachable" in the
// log. A changed cause is logged once now, at warning level, with its
// error, and changes within a minute of the last one logged are not (a
// cause that flaps floods nothing); the end once, as before. On both
// stores, their Ping's errors given.
func TestReadyzLogsAChangedCauseOfAnOutageOnceThrottled(t *testing.T) {
	t.Parallel()
	unreachable := fmt.Errorf("ping: %w: %w", eventstore.ErrUnavailable,
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	refused := fmt.Errorf("ping: %w: %w: SELECT command denied to user 'svc'", eventstore.ErrUnavailable, eventstore.ErrRefused)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &pingFailing{Store: k.Open(t)}
		logs := &testlog.Buffer{}
		s := New(store, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		probe := func(what string, fail error, want int) {
			t.Helper()
			if fail != nil {
				store.fail.Store(&fail)
			} else {
				store.fail.Store(nil)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != want {
				t.Fatalf("%s: /readyz answered %d; want %d", what, rec.Code, want)
			}
		}
		for range 3 {
			probe("the outage, unreachable", unreachable, http.StatusServiceUnavailable)
		}
		for range 3 {
			probe("the outage, refused", refused, http.StatusServiceUnavailable)
		}
		for range 2 { // a cause that flaps, within a minute of the last change logged
			probe("the outage, unreachable again within a minute", unreachable, http.StatusServiceUnavailable)
			probe("the outage, refused again within a minute", refused, http.StatusServiceUnavailable)
		}
		probe("the outage, unreachable again within a minute", unreachable, http.StatusServiceUnavailable)
		s.readyzCauseEvery.Store(0) // a minute gone by
		probe("the outage, unreachable after a minute", unreachable, http.StatusServiceUnavailable)
		probe("the outage, unreachable after a minute again", unreachable, http.StatusServiceUnavailable)
		probe("the database back", nil, http.StatusOK)

		var causes []string
		infos := 0
		for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var l map[string]any
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("a log line that is no JSON: %q", line)
			}
			msg, _ := l["msg"].(string)
			if !strings.HasPrefix(msg, "readyz:") {
				continue
			}
			switch l["level"] {
			case "WARN":
				cause, _ := l["cause"].(string)
				if e, _ := l["error"].(string); e == "" {
					t.Errorf("a warning of /readyz without its error: %v", l)
				}
				causes = append(causes, cause)
			case "INFO":
				infos++
			}
		}
		if want := []string{"unreachable", "refused", "unreachable"}; strings.Join(causes, ",") != strings.Join(want, ",") {
			t.Errorf("/readyz's warnings named the causes %q; want %q, each change once and none within a minute of the last; the log:\n%s", causes, want, logs)
		}
		if infos != 1 {
			t.Errorf("%d lines of the database back; want 1; the log:\n%s", infos, logs)
		}
	})
}
