package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAFilterNameWithSpacesAroundItMatchesAsTheServerReadsIt: the server
// trims the spaces around each name of a filter (README: `type=A, B` reads
// as written), and answered the events that match; the client checked
// them against the names untrimmed, took the first " order" event for one
// the filter leaves out, and ended the read or the subscription with an
// error that blamed the server. Against the real handler on both stores.
func TestAFilterNameWithSpacesAroundItMatchesAsTheServerReadsIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		c := clientOfTributary(t, k)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		order, invoice := uuid.New(), uuid.New()
		if _, err := c.Append(ctx, StreamRef{ID: order, Type: "order"}, NoStream,
			NewEvent{Type: "OrderPlaced", Data: 1}, NewEvent{Type: "Live", Data: 2}); err != nil {
			t.Fatalf("Append order: %v", err)
		}
		if _, err := c.Append(ctx, StreamRef{ID: invoice, Type: "invoice"}, NoStream, NewEvent{Type: "Billed", Data: 3}); err != nil {
			t.Fatalf("Append invoice: %v", err)
		}
		for _, tc := range []struct {
			name                    string
			streamTypes, eventTypes []string
			want                    string // the events read, as stream type/type
		}{
			{"a comma and a space", []string{"invoice, order"}, nil, "[order/OrderPlaced order/Live invoice/Billed]"},
			{"a trailing space", []string{"order "}, nil, "[order/OrderPlaced order/Live]"},
			{"a leading space", []string{"invoice", " order"}, nil, "[order/OrderPlaced order/Live invoice/Billed]"},
			{"a tab", []string{"order\t"}, nil, "[order/OrderPlaced order/Live]"},
			{"event types", nil, []string{"OrderPlaced, Live"}, "[order/OrderPlaced order/Live]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				for e, err := range c.ReadAll(ctx, ReadAllOptions{StreamTypes: tc.streamTypes, EventTypes: tc.eventTypes}) {
					if err != nil {
						t.Fatalf("ReadAll after %v: %v", got, err)
					}
					got = append(got, e.StreamType+"/"+e.Type)
				}
				if fmt.Sprint(got) != tc.want {
					t.Errorf("ReadAll read %v; expected %s", got, tc.want)
				}
				got = nil
				for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamTypes: tc.streamTypes, EventTypes: tc.eventTypes}) {
					if err != nil {
						t.Fatalf("Subscribe after %v: %v", got, err)
					}
					if m.CaughtUp {
						break
					}
					got = append(got, m.Event.StreamType+"/"+m.Event.Type)
				}
				if fmt.Sprint(got) != tc.want {
					t.Errorf("Subscribe delivered %v before catching up; expected %s", got, tc.want)
				}
			})
		}
	})
}
