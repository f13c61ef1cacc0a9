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

// TestAStreamWhoseRowIsMissingIsDamageNotANewStream: a stream's events
// whose row of streams is gone (an operator's bad restore, a DELETE by
// hand) read as no stream at all. An append with If-None-Match: * (or any
// version) was planned as the stream's first, met its events on the unique
// key, and answered a 500; one that expected the stream's version was told
// the stream is at 0; a read said 404 while the log held the events. Each
// is a 503 of damage now (ErrUnavailable and ErrDamaged) that names the
// missing row of streams, writes nothing, and leaves other streams alone.
// Both stores.
func TestAStreamWhoseRowIsMissingIsDamageNotANewStream(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		ctx := context.Background()
		store := k.Open(t)
		id := uuid.New()
		stored := []eventstore.NewEvent{{ID: uuid.New(), Type: "X", Data: []byte(`{}`)}, {ID: uuid.New(), Type: "X", Data: []byte(`{}`)}}
		if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: stored}); err != nil {
			t.Fatal(err)
		}
		k.Exec(t, store, "DELETE FROM streams WHERE stream_id = ?", id[:])
		if k.OpenAgain != nil {
			// Another process: its writer knows nothing of the stream from
			// a commit of its own, and reads it.
			store = k.OpenAgain(t, store)
		}
		head, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		damaged := func(t *testing.T, what string, err error) {
			t.Helper()
			if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, eventstore.ErrDamaged) || !strings.Contains(err.Error(), "streams") {
				t.Errorf("%s, the stream's row of streams missing: %v; want ErrUnavailable and ErrDamaged, naming the table streams", what, err)
			}
		}
		for name, expected := range map[string]eventstore.ExpectedVersion{
			"no stream (If-None-Match: *)": eventstore.NoStream, "any": eventstore.Any,
			"stream exists": eventstore.StreamExists, "exactly 2": eventstore.Exactly(2), "exactly 1": eventstore.Exactly(1),
		} {
			_, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Expected: expected,
				Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}})
			damaged(t, "an append expecting "+name, err)
		}
		_, err = store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: stored})
		damaged(t, "a retry of the stream's stored batch", err)
		_, err = store.Stream(ctx, id)
		damaged(t, "a read of the stream", err)
		_, err = store.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
		damaged(t, "a read of the stream's events", err)
		if now, herr := store.Head(ctx); herr != nil || now != head {
			t.Fatalf("the log's head after the refused appends: %d, %v; want %d: nothing written", now, herr, head)
		}
		// The mend the error gives makes the row again, from the stream's
		// first event: the stream reads and takes appends as before.
		_, mend, ok := strings.Cut(err.Error(), "mend it with ")
		if !ok {
			t.Fatalf("the error says no mend: %v", err)
		}
		k.Exec(t, store, mend)
		if st, err := store.Stream(ctx, id); err != nil || st.Type != "t" || st.Version != 2 {
			t.Fatalf("the stream after the mend: %+v, %v; want type t at version 2", st, err)
		}
		if res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2),
			Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}}); err != nil || res.Version != 3 {
			t.Fatalf("an append expecting version 2 after the mend: %+v, %v; want version 3", res, err)
		}
		// A healthy stream is not held up by the damaged one.
		if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
			t.Fatalf("an append to another stream: %v", err)
		}
	})
}
