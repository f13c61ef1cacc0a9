package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

// Order is the aggregate: its state is nothing but its events applied in
// order. Commands check the rules against that state and record new events;
// save appends them, expecting the version the order was loaded at.
type Order struct {
	ID      uuid.UUID
	Version int64 // the stream version it was loaded at
	Status  string
	Lines   []Line
	Total   int

	pending []client.NewEvent // recorded, not yet saved
}

// Line is one item of an order.
type Line struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Price int    `json:"price"`
}

// The events of an order.
type (
	OrderPlaced struct {
		Customer string `json:"customer"`
	}
	LineAdded Line
	OrderPaid struct {
		Amount int `json:"amount"`
	}
	OrderShipped struct {
		Carrier string `json:"carrier"`
	}
)

// Commands. Each checks its rule against the current state, then records.

func (o *Order) Place(customer string) error {
	if o.Status != "" {
		return fmt.Errorf("order %s is already placed", o.ID)
	}
	return o.record("OrderPlaced", OrderPlaced{Customer: customer})
}

func (o *Order) AddLine(sku string, qty, price int) error {
	if o.Status != "placed" {
		return fmt.Errorf("order %s is %s: lines can be added only while it is placed", o.ID, o.Status)
	}
	return o.record("LineAdded", LineAdded{SKU: sku, Qty: qty, Price: price})
}

func (o *Order) Pay(amount int) error {
	switch {
	case o.Status != "placed":
		return fmt.Errorf("order %s is %s, not placed: it cannot be paid", o.ID, o.Status)
	case amount != o.Total:
		return fmt.Errorf("order %s totals %d: a payment of %d does not settle it", o.ID, o.Total, amount)
	}
	return o.record("OrderPaid", OrderPaid{Amount: amount})
}

func (o *Order) Ship(carrier string) error {
	if o.Status != "paid" {
		return fmt.Errorf("order %s is %s: only a paid order ships", o.ID, o.Status)
	}
	return o.record("OrderShipped", OrderShipped{Carrier: carrier})
}

// record applies an event to the state and keeps it to be saved, with an
// id of its own: sent again after an answer that was lost, it is stored once.
func (o *Order) record(typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := o.apply(typ, raw); err != nil {
		return err
	}
	o.pending = append(o.pending, client.NewEvent{ID: uuid.New(), Type: typ, Data: json.RawMessage(raw)})
	return nil
}

// apply changes the state by one event. It is used both to record new
// events and to load the order from its history, so the two never disagree.
func (o *Order) apply(typ string, data json.RawMessage) error {
	switch typ {
	case "OrderPlaced":
		o.Status = "placed"
	case "LineAdded":
		var l Line
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		o.Lines = append(o.Lines, l)
		o.Total += l.Qty * l.Price
	case "OrderPaid":
		o.Status = "paid"
	case "OrderShipped":
		o.Status = "shipped"
	default:
		return fmt.Errorf("order %s: unknown event type %q", o.ID, typ)
	}
	return nil
}

// load rebuilds an order from its stream; a stream that does not exist yet
// is a new order at version 0.
func load(ctx context.Context, c *client.Client, id uuid.UUID) (*Order, error) {
	o := &Order{ID: id}
	for e, err := range c.ReadStream(ctx, id, client.ReadStreamOptions{}) {
		if errors.Is(err, client.ErrNotFound) {
			return o, nil
		}
		if err != nil {
			return nil, fmt.Errorf("load order %s: %w", id, err)
		}
		if err := o.apply(e.Type, e.Data); err != nil {
			return nil, err
		}
		o.Version = e.Version
	}
	return o, nil
}

// save appends what the order recorded, only if its stream is still at the
// version it was loaded at (If-Match). Another writer's append in between
// is client.ErrWrongExpectedVersion, and nothing is written.
//
// When it cannot know whether the events were stored (client.ErrOutcomeUnknown:
// no whole answer came, the connection lost or the client's request timeout
// passed; or the server answered 5xx), it sends the same events again, with
// the same ids and expected version, a few times: the server stores a batch
// once, and answers one it already has with its first result. It waits
// between sendings a backoff, or a 503's Retry-After, up to maxSaveWait.
func save(ctx context.Context, c *client.Client, o *Order) (*client.AppendResult, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := c.Append(ctx, client.StreamRef{ID: o.ID, Type: "order"}, client.Exactly(o.Version), o.pending...)
		if err == nil {
			o.Version, o.pending = res.Version, nil
			return res, nil
		}
		var p *client.Problem
		unknown := errors.Is(err, client.ErrOutcomeUnknown) || (errors.As(err, &p) && p.Status >= 500)
		if !unknown || ctx.Err() != nil || attempt == 4 {
			return nil, fmt.Errorf("save order %s: %w", o.ID, err)
		}
		select {
		case <-time.After(saveWait(wait, p)):
		case <-ctx.Done():
			return nil, fmt.Errorf("save order %s: %w", o.ID, err)
		}
		wait *= 2
	}
}

// maxSaveWait bounds save's wait before it sends a batch again.
const maxSaveWait = time.Minute

// saveWait is how long save waits before it sends a batch again: its
// backoff, or a 503's Retry-After (p's, p may be nil) when longer, which
// the client leaves as the answer said it (a proxy's may be a day, or a
// date in the year 9999), up to maxSaveWait.
func saveWait(backoff time.Duration, p *client.Problem) time.Duration {
	wait := backoff
	if p != nil {
		wait = max(wait, p.RetryAfter)
	}
	return min(wait, maxSaveWait)
}

// execute runs a command on the order as its stream has it now, and saves.
// On a conflict it loads the order again and runs the command again: the
// command decides anew on the state another writer left, so its rule still
// holds. It returns the last position written.
func execute(ctx context.Context, c *client.Client, id uuid.UUID, cmd func(*Order) error) (int64, error) {
	for attempt := 1; ; attempt++ {
		o, err := load(ctx, c, id)
		if err != nil {
			return 0, err
		}
		if err := cmd(o); err != nil {
			return 0, err
		}
		res, err := save(ctx, c, o)
		if errors.Is(err, client.ErrWrongExpectedVersion) && attempt < 5 {
			continue
		}
		if err != nil {
			return 0, err
		}
		return res.Events[len(res.Events)-1].Position, nil
	}
}
