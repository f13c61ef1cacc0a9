package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendThatFindsTheLogsHeadRowMissingIsUnavailable: during a restore
// (log_head made again, its row not yet inserted) or after a change by
// hand, an append found no row under its lock and failed with a plain
// error, a 500 whose words sent the operator to `api migrate`, which makes
// no step twice. It is unavailable (a 503), saying what is missing. Both
// stores; nothing is written.
func TestAnAppendThatFindsTheLogsHeadRowMissingIsUnavailable(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		k.Exec(t, store, "DELETE FROM log_head")
		_, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}})
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "log_head") || strings.Contains(err.Error(), "migrate") {
			t.Fatalf("an append with the log's head row missing: %v; want ErrUnavailable naming log_head, not advice to migrate", err)
		}
	})
}

// TestAReadOfTheLogsHeadThatFindsItsRowMissingIsUnavailable: the reads'
// look at the log's head (a subscription's start, a read up to the head)
// found no row in log_head and said "sql: no rows in result set", a 500,
// where an append that finds the same says what is missing, a 503. It is
// unavailable too, naming log_head. Both stores.
func TestAReadOfTheLogsHeadThatFindsItsRowMissingIsUnavailable(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		k.Exec(t, store, "DELETE FROM log_head")
		_, err := store.Head(context.Background())
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "log_head") || strings.Contains(err.Error(), "no rows") {
			t.Fatalf("a read of the log's head with its row missing: %v; want ErrUnavailable naming log_head, not the driver's no rows", err)
		}
	})
}
