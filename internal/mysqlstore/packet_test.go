package mysqlstore_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAppendsThatEachFitTheServersPacketAreWrittenWhateverTheirGroup sends
// at once several appends, each well within the server's max_allowed_packet
// but together past it: each must be written, as it would be alone.
func TestAppendsThatEachFitTheServersPacketAreWrittenWhateverTheirGroup(t *testing.T) {
	t.Parallel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	var packet int64
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.WritesPool().QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
		t.Fatal(err)
	}
	// Each append: three events of about 1 MiB, data the driver escapes
	// little; together, about twice the server's packet.
	data := append(append([]byte(`"`), bytes.Repeat([]byte("a"), 1<<20-64)...), '"')
	appends := int(2*packet/(3<<20)) + 1
	appendOne := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Expected: eventstore.NoStream}
		for range 3 {
			req.Events = append(req.Events, eventstore.NewEvent{Type: "big", Data: data})
		}
		_, err := s.Append(ctx, req)
		return err
	}
	others, first := appendsAsOneGroup(t, s, appends, appendOne)
	if first != nil {
		t.Fatalf("first append: %v", first)
	}
	for _, err := range others {
		if err != nil {
			t.Errorf("an append of 3 MiB, alone well within max_allowed_packet (%d), failed in a group of %d: %v", packet, appends, err)
		}
	}
}

// appendsAsOneGroup runs appendOne, holds its group just before COMMIT
// while n more run, so that they queue behind it and go as one group, and
// returns the others' errors and the first one's.
func appendsAsOneGroup(t *testing.T, s *mysqlstore.Store, n int, appendOne func() error) (others []error, first error) {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.SetBeforeCommit(func() { once.Do(func() { close(held); <-hold }) })
	firstDone := make(chan error, 1)
	go func() { firstDone <- appendOne() }()
	<-held
	errs := make(chan error, n)
	for range n {
		go func() { errs <- appendOne() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety bound
	defer cancel()
	if err := awaitQueued(ctx, s, n); err != nil { // all queued behind the first
		t.Error(err) // (the first, held, must still be let go)
	}
	s.SetBeforeCommit(func() {})
	close(hold)
	first = <-firstDone
	for range n {
		others = append(others, <-errs)
	}
	return others, first
}
