package mysqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaReadCutPastThePrimarysReadTimeoutIsSentAgain: a read whose
// connection is lost under it is sent once more on a fresh one, unless it
// may have run out the driver's readTimeout (which go-sql-driver says as
// it says a cut: TestAReadThatRanOutTheDSNsReadTimeoutIsNotSentAgain). The
// bound was the shorter of the primary's DSN's readTimeout and the read
// replica's; but with a replica every read that is sent again goes to the
// replica (the clients' pool and the live feed's), whose DSN alone bounds
// its waits: a primary's DSN with readTimeout=1s and a replica's with none
// took every replica read cut a second or more after it went (a page
// of large events, a read behind a busy pool) for a timeout, and failed
// it 503 rather than sending it again. The replica's readTimeout alone
// bounds them now. (A read on the primary, PrimaryStreamVersion, keeps
// the primary's.) The "replica" is a migrated database on the shared
// server behind a proxy, the primary a private server with its binary log
// on.
func TestAReplicaReadCutPastThePrimarysReadTimeoutIsSentAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const primaryReadTimeout = time.Second
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	pcfg, err := mysql.ParseDSN(primary)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ReadTimeout = primaryReadTimeout
	copyDSN := mysqltest.NewDatabase(t)
	copied := openLogged(t, copyDSN, slog.New(slog.DiscardHandler))
	// An id of plain letters, interpolated into the statement as it is.
	marker := []byte("rstores2-replrt!")
	id := uuid.UUID(marker)
	// The same event (its id given) is appended on the primary before the
	// second process starts: a start refuses a replica whose log is not
	// the primary's (checkReplicaLog).
	event := eventstore.AppendRequest{StreamID: id, StreamType: "replicaReadTimeout", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "r", Data: []byte(`{}`)}}}
	if _, err := copied.Append(ctx, event); err != nil {
		t.Fatalf("append on the replica's database: %v", err)
	}
	copied.Close()
	rcfg, err := mysql.ParseDSN(copyDSN)
	if err != nil {
		t.Fatal(err)
	}
	rcfg.ReadTimeout = 0 // the replica's DSN sets none
	proxy := faultproxy.Start(t, rcfg.Addr)
	rcfg.Addr = proxy.Addr()
	s, err := mysqlstore.Open(ctx, pcfg.FormatDSN(), mysqlstore.Options{ReadDSN: rcfg.FormatDSN(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	// The stream's read is held at the proxy past the primary's
	// readTimeout, then its connection cut: a cut, on the replica, whose
	// DSN has no readTimeout to run out.
	held, release := proxy.HoldAfter(func(chunk []byte) bool {
		return bytes.Contains(chunk, marker) && bytes.Contains(chunk, []byte("ORDER BY e.stream_version DESC"))
	})
	type result struct {
		st  eventstore.Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.Stream(ctx, id)
		done <- result{st, err}
	}()
	select {
	case <-held:
	case r := <-done:
		t.Fatalf("the proxy held no statement of the read (%+v, %v): the test's match is wrong", r.st, r.err)
	}
	heldAt := time.Now()
	for time.Since(heldAt) <= 3*primaryReadTimeout/2 {
		time.Sleep(50 * time.Millisecond) // past the primary's readTimeout: the condition itself
	}
	release()
	r := <-done
	if r.err != nil || r.st.Version != 1 {
		t.Errorf("a replica read cut %s after it went, past the primary's readTimeout (%s), the replica's DSN setting none: %+v, %v; "+
			"want it sent again on a fresh connection and answered (version 1)", time.Since(heldAt).Round(time.Millisecond), primaryReadTimeout, r.st, r.err)
	}

	// The other way about, a second process: the replica's DSN's
	// readTimeout, which the primary's does not set, still keeps a replica
	// read that ran it out from being sent again.
	pcfg.ReadTimeout, rcfg.ReadTimeout = 0, primaryReadTimeout
	if _, err := s.Append(ctx, event); err != nil {
		t.Fatalf("append on the primary: %v", err)
	}
	bounded, err := mysqlstore.Open(ctx, pcfg.FormatDSN(), mysqlstore.Options{ReadDSN: rcfg.FormatDSN(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { bounded.Close() })
	held, release = proxy.HoldAfter(func(chunk []byte) bool {
		return bytes.Contains(chunk, marker) && bytes.Contains(chunk, []byte("ORDER BY e.stream_version DESC"))
	})
	_, err = bounded.Stream(ctx, id)
	select {
	case <-held:
	default:
		t.Fatalf("the proxy held no statement of the read (%v): the test's match is wrong", err)
	}
	release()
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a replica read that outlasted the replica's DSN's readTimeout: %v; want it failed (unavailable), not sent again", err)
	}
}
