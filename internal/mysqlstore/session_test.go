package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAppendsWorkWhateverTheDSNsTransactionSettings: a DSN (or a server's
// default, which a DSN parameter stands in for here) may end transactions
// differently: completion_type RELEASE closes the session at COMMIT, CHAIN
// opens the next transaction at once; autocommit off leaves every statement
// in an open transaction. The store must append, on the read-first path and
// in one round trip, and read back what it wrote.
func TestAppendsWorkWhateverTheDSNsTransactionSettings(t *testing.T) {
	t.Parallel()
	for _, param := range []string{
		"",
		"completion_type=2",
		"completion_type=%27RELEASE%27",
		"completion_type=1",
		"completion_type=%27CHAIN%27",
		"autocommit=0",
		"autocommit=0&completion_type=1",
		// In another case: the server takes any, and the driver sends each
		// spelling it is given (a review: no row checked setParam's case).
		"AUTOCOMMIT=0",
		"Completion_Type=%27RELEASE%27",
	} {
		t.Run(param, func(t *testing.T) {
			t.Parallel()
			ctx, base, s, m := openWithParam(t, param)
			other, _ := openCounted(t, base)
			x := uuid.New()
			for v := range int64(4) {
				if v == 2 {
					// Another process appends: the next group reads first.
					if _, err := appendOne(ctx, other, uuid.New(), eventstore.NoStream); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := appendOne(ctx, s, x, eventstore.Exactly(v)); err != nil {
					t.Fatalf("DSN %s: append at version %d: %v", param, v, err)
				}
			}
			// Sent in one round trip: versions 1 and 3, and 2, which the
			// other process's append stops; 0 and 2 read first.
			if got, reads := teststore.Statements(t, m, "guard_head"), teststore.Statements(t, m, "read_streams"); got != 3 || reads != 2 {
				t.Errorf("DSN %s: %d groups sent in one round trip, %d read first; want 3 and 2", param, got, reads)
			}
			// What this store wrote, and the other's, read through it.
			if n := checkLog(ctx, t, s); n != 5 {
				t.Errorf("DSN %s: the log holds %d events; want 5", param, n)
			}
			st, err := s.Stream(ctx, x)
			if err != nil || st.Version != 4 {
				t.Errorf("DSN %s: stream at version %d (%v); want 4", param, st.Version, err)
			}
			// And what is written after those reads, through the same
			// sessions: a read must not stay in a transaction it began.
			if _, err := appendOne(ctx, other, x, eventstore.Exactly(4)); err != nil {
				t.Fatal(err)
			}
			if n := checkLog(ctx, t, s); n != 6 {
				t.Errorf("DSN %s: after another append, the log holds %d events; want 6", param, n)
			}
			if st, err := s.Stream(ctx, x); err != nil || st.Version != 5 {
				t.Errorf("DSN %s: after another append, the stream is at version %d (%v); want 5", param, st.Version, err)
			}
		})
	}
}

// openWithParam opens, with metrics of its own, a store on a new database
// whose DSN has param added; the plain DSN migrates it first. It returns
// the plain DSN too.
func openWithParam(t *testing.T, param string) (context.Context, string, *mysqlstore.Store, *metrics.Metrics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	base := mysqltest.NewDatabase(t)
	openCounted(t, base)
	m := metrics.New("test")
	s, err := mysqlstore.Open(ctx, withParam(base, param), mysqlstore.Options{Metrics: m})
	if err != nil {
		t.Fatalf("open with %s: %v", param, err)
	}
	t.Cleanup(func() { s.Close() })
	return ctx, base, s, m
}

// TestARetryIsAnsweredAsSuchWhateverTheDSNsSelectLimit: a DSN (or a server
// default) with sql_select_limit must not cut the store's reads short: a
// retry of a batch whose events the read of known ids finds only in part
// would be refused as a duplicate, and a lost COMMIT settled as not
// committed, and written again.
func TestARetryIsAnsweredAsSuchWhateverTheDSNsSelectLimit(t *testing.T) {
	t.Parallel()
	ctx, _, s, _ := openWithParam(t, "sql_select_limit=1")
	x := uuid.New()
	req := eventstore.AppendRequest{StreamID: x, StreamType: "thing", Expected: eventstore.NoStream}
	for range 3 {
		req.Events = append(req.Events, eventstore.NewEvent{ID: uuid.New(), Type: "Happened", Data: []byte(`{}`)})
	}
	first, err := s.Append(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, req)
	if err != nil || !again.Duplicate || again.Version != first.Version {
		t.Fatalf("a retry of a stored batch of 3 under sql_select_limit=1: %+v, %v; want the original result, a duplicate", again, err)
	}
	page, err := s.ReadStream(ctx, x, eventstore.ReadStreamOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range page.Events {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("a read of the stream under sql_select_limit=1 gave %d events; want 3", n)
	}
}
