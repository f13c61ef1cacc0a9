package fanout_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionOpenedAfterAnIdleRestoreThatGrewPastTheOldHeadGetsTheLog:
// with no subscription open, the feed only follows the head. A database
// restored to an earlier point and appended past the old head before the
// feed looks again is not seen as a log that went back: the head only
// moved up (5, then 3, then 6 in one commit). That is harmless: a
// subscription that opens then reads its history from the store up to the
// head, and the live buffer holds nothing below it, so it gets exactly the
// log as it is now, then the events that follow. A guard: it passed before
// this session's changes too.
func TestASubscriptionOpenedAfterAnIdleRestoreThatGrewPastTheOldHeadGetsTheLog(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		logged := &testlog.Buffer{}
		// Long between looks: the restore and the append after it fall
		// between two of them (the log shows when they do not).
		f := runFeed(t, store, fanout.Options{PollInterval: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
		log := appendToNewStreams(t, store, 5)
		waitFor(t, 30*time.Second, "the idle feed to follow the head to 5", func() bool { return fanout.Head(f) == 5 })

		goBack(t, k, store, 3)
		res := appendN(t, store, uuid.New(), "Restored", 3) // positions 4 to 6, in one commit
		log = log[:3]
		for _, e := range res.Events {
			log = append(log, e.ID)
		}
		waitFor(t, 30*time.Second, "the idle feed to follow the head to 6", func() bool { return fanout.Head(f) == 6 })
		if strings.Contains(logged.String(), "went back") {
			t.Logf("the feed looked while the head was at 3, and saw the log go back: the path without it was not taken this run")
		}

		c := subscribeCaughtUp(t, f, "a subscription opened after the restore")
		log = append(log, appendToNewStreams(t, f.Notifying(store), 2)...)
		checkLog(t, "a subscription opened after the restore", c, log)
		if _, _, _, closed := c.snapshot(); closed {
			t.Errorf("the subscription opened after the restore ended (%v); want it open", c.ended())
		}
		// And the store agrees that this is the log.
		page, err := store.ReadAll(context.Background(), eventstore.ReadAllOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var stored []uuid.UUID
		for e, err := range page.Events {
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, e.ID)
		}
		if fmt.Sprint(stored) != fmt.Sprint(log) {
			t.Errorf("the store holds %v; the test expected %v", stored, log)
		}
	})
}
