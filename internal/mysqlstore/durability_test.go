package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestDurabilitySettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d      durability
		unsafe string // a word the reason must hold, or "" for safe
	}{
		{durability{flushAtCommit: 1}, ""},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 1}, ""},
		{durability{flushAtCommit: 2}, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 0, logBin: true, syncBinlog: 1}, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 0}, "sync_binlog"},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 100}, "sync_binlog"},
	}
	for _, tc := range cases {
		got := tc.d.unsafe()
		if (got == "") != (tc.unsafe == "") || !strings.Contains(got, tc.unsafe) {
			t.Errorf("%+v: unsafe() = %q, want a reason naming %q", tc.d, got, tc.unsafe)
		}
	}
}

// TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff checks the fence against
// the server the tests run on.
func TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, mysqltest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := s.readDurability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counter := func() int64 {
		var n int64
		if err := s.feed.QueryRowContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := counter()
	if err := s.Tail().WaitDurable(ctx, 1); err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
	want := before
	if !d.logBin {
		want++
	}
	if got := counter(); got != want {
		t.Fatalf("binary log on=%v: fence counter went from %d to %d, want %d", d.logBin, before, got, want)
	}
}

// TestAnswersThatWriteNothingRestOnDurableCommits: with the binary log off,
// another process's commit is visible a moment before it is on disk. Reads,
// and appends that write nothing (a replay, a conflict), must not answer
// from it until it is durable, so they fence first; what is already known
// durable is not fenced again.
func TestAnswersThatWriteNothingRestOnDurableCommits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	open := func() *Store {
		s, err := Open(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, other := open(), open()
	if !a.fence {
		t.Skip("the binary log is on: commits are durable before they are visible")
	}
	counter := func() int64 {
		var n int64
		if err := a.feed.QueryRowContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	appendOther := func(req eventstore.AppendRequest) eventstore.AppendResult {
		res, err := other.Append(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fences := func(what string, want int64, fn func()) {
		t.Helper()
		before := counter()
		fn()
		if got := counter() - before; got != want {
			t.Errorf("%s: %d fence commits, want %d", what, got, want)
		}
	}
	stream := uuid.New()
	batch := []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}
	first := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: batch}
	appendOther(first)
	fences("a log read of another process's fresh commit", 1, func() {
		page, err := a.ReadAll(ctx, eventstore.ReadAllOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range page.Events {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	fences("reading it again", 0, func() {
		if _, err := a.Stream(ctx, stream); err != nil {
			t.Fatal(err)
		}
	})
	appendOther(eventstore.AppendRequest{StreamID: stream, Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
	fences("a stream description of a fresh commit", 1, func() {
		if _, err := a.Stream(ctx, stream); err != nil {
			t.Fatal(err)
		}
	})
	appendOther(eventstore.AppendRequest{StreamID: stream, Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
	fences("a conflict answered from a fresh commit", 1, func() {
		_, err := a.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Fatalf("append at a stale version: %v, want a wrong expected version", err)
		}
	})
	replayed := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}}
	appendOther(replayed)
	fences("a replay answered from a fresh commit", 1, func() {
		if res, err := a.Append(ctx, replayed); err != nil || !res.Duplicate {
			t.Fatalf("replay: %+v, %v; want the stored result", res, err)
		}
	})
}

// TestWriterSessionsRunReadCommittedAndTakeStatementBatches: the append
// transaction relies on both (see dialect).
func TestWriterSessionsRunReadCommittedAndTakeStatementBatches(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, mysqltest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var level string
	if err := s.writes.QueryRowContext(ctx, "SELECT @@tx_isolation").Scan(&level); err != nil {
		if err := s.writes.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(&level); err != nil {
			t.Fatal(err)
		}
	}
	if level != "READ-COMMITTED" {
		t.Errorf("the writer's sessions run %s; want READ-COMMITTED", level)
	}
	rows, err := s.writes.QueryContext(ctx, "SELECT 1; SELECT 2")
	if err != nil {
		t.Fatalf("a two-statement query on the writer's pool: %v", err)
	}
	rows.Close()
}
