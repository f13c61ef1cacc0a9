package storetest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// ReadsTellTypeNamesByCase appends to s a stream of type Cart with an event
// of type Order (upper) and one of type cart with an event of type order
// (lower), and fails t unless a read filtered on a type, a stream type or
// both returns only the stream of that name, not the one of another case.
// under names the schema's collation in the failure messages; a store's
// test that changed it calls this after its start.
func ReadsTellTypeNamesByCase(ctx context.Context, t *testing.T, s eventstore.Store, under string) (upper, lower uuid.UUID) {
	t.Helper()
	upper, lower = uuid.New(), uuid.New()
	for _, a := range []eventstore.AppendRequest{
		{StreamID: upper, StreamType: "Cart", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{{Type: "Order", Data: []byte(`{}`)}}},
		{StreamID: lower, StreamType: "cart", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{{Type: "order", Data: []byte(`{}`)}}},
	} {
		if _, err := s.Append(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		opts eventstore.ReadAllOptions
		want uuid.UUID
	}{
		{"stream type Cart", eventstore.ReadAllOptions{StreamTypes: []string{"Cart"}}, upper},
		{"stream type cart", eventstore.ReadAllOptions{StreamTypes: []string{"cart"}}, lower},
		{"type Order", eventstore.ReadAllOptions{EventTypes: []string{"Order"}}, upper},
		{"type order", eventstore.ReadAllOptions{EventTypes: []string{"order"}}, lower},
		{"stream type cart, type order", eventstore.ReadAllOptions{StreamTypes: []string{"cart"}, EventTypes: []string{"order"}}, lower},
	} {
		page, err := s.ReadAll(ctx, c.opts)
		if err != nil {
			t.Fatalf("read of %s: %v", c.name, err)
		}
		var got []uuid.UUID
		for e, err := range page.Events {
			if err != nil {
				t.Fatalf("read of %s: %v", c.name, err)
			}
			got = append(got, e.StreamID)
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("read of %s under %s: streams %v; want only %v (upper %v, lower %v)", c.name, under, got, c.want, upper, lower)
		}
	}
	return upper, lower
}
