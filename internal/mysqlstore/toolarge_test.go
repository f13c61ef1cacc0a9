package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// smallPacket is the max_allowed_packet of the private server of
// TestOnASmallPacket: 1 MiB, which the shared server's must not be set to.
const smallPacket = 1 << 20

// jsonString is a JSON string of n bytes in all whose content is c
// repeated: `"` or `\` make every byte of it one the driver escapes.
func jsonString(n int, c string) []byte {
	inner := strings.Repeat(c, (n-2)/len(c))
	return []byte(`"` + inner + `"`)
}

// TestOnASmallPacket runs, on a private server whose max_allowed_packet is
// 1 MiB, what the store must do about the size of its statements.
func TestOnASmallPacket(t *testing.T) {
	t.Parallel()
	server := mysqltest.StartServer(t, fmt.Sprintf("--max-allowed-packet=%d", smallPacket))

	t.Run("AnAppendThatCanNeverFitIsRefusedAsTooLarge", func(t *testing.T) {
		t.Parallel()
		s := teststore.OpenMySQL(t, mysqltest.NewDatabaseOn(t, server))
		for _, tc := range []struct {
			name string
			data []byte
		}{
			// More than the packet as it is.
			{"plain data past the packet", jsonString(smallPacket+1024, "a")},
			// More than half the packet, past it once escaped.
			{"escaped data past the packet", jsonString(smallPacket/2+64<<10, `\"`)},
			// Within it, but not with the rest of the statement: many events.
			{"many events past the packet", nil},
		} {
			req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Expected: eventstore.NoStream}
			if tc.data != nil {
				req.Events = []eventstore.NewEvent{{Type: "big", Data: tc.data}}
			} else {
				// 1,000 events of 900 bytes of data: 900 KB of data, well
				// over 1 MiB in the statement with their ids and types.
				for range 1000 {
					req.Events = append(req.Events, eventstore.NewEvent{Type: strings.Repeat("t", 64), Data: jsonString(900, "a")})
				}
			}
			for try := range 2 { // as a client retrying it as it is
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := s.Append(ctx, req)
				cancel()
				if !errors.Is(err, eventstore.ErrTooLarge) || errors.Is(err, eventstore.ErrUnavailable) {
					t.Errorf("%s, try %d: expected an error wrapping ErrTooLarge (a 413), got %v", tc.name, try+1, err)
				} else if !strings.Contains(err.Error(), "bytes") {
					t.Errorf("%s: expected the error to say how large the append is and what is taken, got %v", tc.name, err)
				}
			}
			if _, err := s.ReadStream(context.Background(), req.StreamID, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Errorf("%s: expected nothing written, got %v reading the stream", tc.name, err)
			}
		}
		// What fits still goes, at once and after them.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, data := range [][]byte{jsonString(smallPacket*3/4, "a"), jsonString(smallPacket/3, `\"`), []byte(`{}`)} {
			req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Expected: eventstore.NoStream,
				Events: []eventstore.NewEvent{{Type: "big", Data: data}}}
			if _, err := s.Append(ctx, req); err != nil {
				t.Errorf("an append of %d bytes, which fits the packet, failed: %v", len(data), err)
			}
		}
	})

	t.Run("AppendsThatEachFitAreWrittenWhateverTheirGroup", func(t *testing.T) {
		t.Parallel()
		var logged testlog.Buffer
		s := openLogged(t, mysqltest.NewDatabaseOn(t, server), slog.New(slog.NewTextHandler(&logged, nil)))
		// Each append: 100 events with little data but long types and a
		// client's id, about 25 KB in the statement; together, past the
		// packet though their data is a twentieth of it.
		appends := 80
		appendOne := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: strings.Repeat("s", 64), Expected: eventstore.NoStream}
			for range 100 {
				req.Events = append(req.Events, eventstore.NewEvent{ID: uuid.New(), Type: strings.Repeat("t", 64), Data: []byte(`"\"\"\""`)})
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
				t.Errorf("an append of 100 small events, alone well within max_allowed_packet (%d), failed in a group: %v", smallPacket, err)
			}
		}
		if strings.Contains(logged.String(), "group append failed") {
			t.Errorf("expected every group the writer made to fit the packet, one failed and was retried one append at a time:\n%s", logged.String())
		}
	})

	t.Run("OpenRefusesAnEventBoundThePacketCannotCarry", func(t *testing.T) {
		t.Parallel()
		dsn := mysqltest.NewDatabaseOn(t, server)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// 1 MiB of data, escaped, cannot go in a 1 MiB packet.
		s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{MaxEventBytes: 1 << 20})
		if err == nil {
			s.Close()
			t.Fatal("expected Open to refuse an event bound of 1 MiB on a server whose max_allowed_packet is 1 MiB, it opened")
		}
		for _, want := range []string{"max_allowed_packet", "TRIBUTARY_MAX_EVENT_BYTES"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("expected the refusal to name %s, got %v", want, err)
			}
		}
		// One the packet carries opens.
		s, err = mysqlstore.Open(ctx, dsn, mysqlstore.Options{MaxEventBytes: 256 << 10})
		if err != nil {
			t.Fatalf("expected Open to take an event bound of 256 KiB on a 1 MiB packet, got %v", err)
		}
		s.Close()
	})
}

// openLogged opens and migrates a store on dsn that logs to log, and closes
// it at the end of the test.
func openLogged(t *testing.T, dsn string, log *slog.Logger) *mysqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: log})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
