package mysqlstore

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestASilentReadReplicaIsAnsweredAtOnceAndAppendsGoOn: the stall watch
// pinged the primary alone. With the read replica stopped (SIGSTOP; here
// the proxy in front of it stalled), every read and subscription there
// waited out its whole deadline (30 s) and was answered 503 "timeout", and
// /readyz its 2 s, while a silent primary is answered 503 "unreachable" at
// once. The replica has a watch of its own now: once its ping has gone
// unanswered for the bound, the reads, the head (a subscription's start),
// Ping and the lag are refused at once with the watch's refusal (a
// net.Error that timed out: the "unreachable" cause), not the caller's
// deadline; appends, on the primary, go on; and once the replica answers
// again the reads are served.
func TestASilentReadReplicaIsAnsweredAtOnceAndAppendsGoOn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replicaDSN := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, replicaDSN, Options{})
	rcfg, err := mysql.ParseDSN(replicaDSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, rcfg.Addr)
	rcfg.Addr = proxy.Addr()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	s := openMigrated(ctx, t, primary.CreateDatabase(t, "tributary"), Options{ReadDSN: rcfg.FormatDSN()})
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 1}); err != nil {
		t.Fatalf("a read on the replica before its stall: %v", err)
	}

	proxy.Stall()
	t.Cleanup(proxy.Resume) // before the store's Close (cleanups run last first)
	// Each try is bounded by a context of its own: a read sent before the
	// stall began waits for it; one begun after is refused at once.
	refused := func(what string, call func(context.Context) error) error {
		t.Helper()
		for {
			tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
			err := call(tctx)
			tcancel()
			var ne net.Error
			switch {
			case err != nil && errors.Is(err, eventstore.ErrUnavailable) && errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded):
				return err
			case ctx.Err() != nil:
				t.Fatalf("%s with the read replica stalled: %v; want it refused at once (the stall watch's refusal, "+
					"wrapping ErrUnavailable, a net.Error that timed out), not waiting out its deadline", what, err)
			}
		}
	}
	// The replica's, said so (ReadReplica), for the 503's detail to name
	// it: it said the database cannot be reached, which is the primary.
	replicas := func(what string, err error) {
		t.Helper()
		var r interface{ ReadReplica() bool }
		if !errors.As(err, &r) || !r.ReadReplica() {
			t.Errorf("%s with the read replica stalled: %v; want it marked as the read replica's (ReadReplica)", what, err)
		}
	}
	replicas("a read of the log", refused("a read of the log", func(ctx context.Context) error {
		_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 1})
		return err
	}))
	replicas("a list of streams", refused("a list of streams", func(ctx context.Context) error {
		_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 1})
		return err
	}))
	replicas("a stream", refused("a stream", func(ctx context.Context) error {
		_, err := s.Stream(ctx, uuid.New())
		return err
	}))
	replicas("the replica's head", refused("the replica's head (a subscription's start)", func(ctx context.Context) error {
		_, err := s.Head(ctx)
		return err
	}))
	refused("the readiness ping", s.Ping)
	replicas("the replica's lag", refused("the replica's lag", func(ctx context.Context) error {
		_, err := s.ReplicaLag(ctx)
		return err
	}))
	if err := s.Store.Stall(); err != nil {
		t.Errorf("the primary's stall watch with only the replica stalled: %v; want nil (the primary answers)", err)
	}
	if _, err := appendHappened(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Errorf("an append (on the primary) with the read replica stalled: %v; want it written", err)
	}

	proxy.Resume()
	for {
		tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.ReadAll(tctx, eventstore.ReadAllOptions{Limit: 1})
		perr := s.Ping(tctx)
		tcancel()
		if err == nil && perr == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("reads once the read replica answers again: %v (ping %v); want them served", err, perr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appendHappened appends one event to stream, expecting expected.
func appendHappened(ctx context.Context, s eventstore.Store, stream uuid.UUID, expected eventstore.ExpectedVersion) (eventstore.AppendResult, error) {
	return s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: expected,
		Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{"n":1}`)}}})
}
