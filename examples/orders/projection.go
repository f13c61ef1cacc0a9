package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

// OrderView is the read model's row for one order: what a list of orders
// shows, kept up to date from the events rather than from the aggregate.
type OrderView struct {
	Status string
	Total  int
	Lines  int
}

// readModel is a projection of every order event in the log.
type readModel struct {
	mu       sync.Mutex
	orders   map[uuid.UUID]*OrderView
	position int64         // the last position applied, or caught up to
	changed  chan struct{} // closed and replaced whenever position moves
}

func newReadModel() *readModel {
	return &readModel{orders: map[uuid.UUID]*OrderView{}, changed: make(chan struct{})}
}

// follow subscribes to /events?stream_type=order from the start and applies
// each event as it comes, until ctx ends. The client reconnects by itself
// and resumes where it stopped, so the model never misses or repeats one.
// An event it cannot decode stops it, with the position left before that
// event: skipping it would leave the model wrong for good, unnoticed.
func (m *readModel) follow(ctx context.Context, c *client.Client) error {
	for msg, err := range c.Subscribe(ctx, client.SubscribeOptions{StreamTypes: []string{"order"}}) {
		if err != nil {
			return fmt.Errorf("projection: %w", err)
		}
		m.mu.Lock()
		if msg.CaughtUp {
			m.position = max(m.position, msg.At)
		} else {
			if err := m.apply(msg.Event); err != nil {
				m.mu.Unlock()
				return fmt.Errorf("projection: %w", err)
			}
			m.position = msg.Event.Position
		}
		close(m.changed)
		m.changed = make(chan struct{})
		m.mu.Unlock()
	}
	return nil
}

// apply updates the row of the event's order, or returns why it cannot. A
// type not listed here is ignored: the model shows only what these say.
func (m *readModel) apply(e client.Event) error {
	var l Line
	if e.Type == "LineAdded" {
		if err := json.Unmarshal(e.Data, &l); err != nil {
			return fmt.Errorf("event at position %d, %s of order %s: %w", e.Position, e.Type, e.StreamID, err)
		}
	}
	v := m.orders[e.StreamID]
	if v == nil {
		v = &OrderView{}
		m.orders[e.StreamID] = v
	}
	switch e.Type {
	case "OrderPlaced":
		v.Status = "placed"
	case "LineAdded":
		v.Lines++
		v.Total += l.Qty * l.Price
	case "OrderPaid":
		v.Status = "paid"
	case "OrderShipped":
		v.Status = "shipped"
	}
	return nil
}

// waitFor waits until the model has applied position, or the projection
// has failed.
func (m *readModel) waitFor(ctx context.Context, position int64, failed <-chan error) error {
	for {
		m.mu.Lock()
		reached, changed := m.position >= position, m.changed
		m.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-changed:
		case err := <-failed:
			return err
		case <-ctx.Done():
			return fmt.Errorf("the projection did not reach position %d: %w", position, ctx.Err())
		}
	}
}

func (m *readModel) get(id uuid.UUID) (OrderView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.orders[id]
	if !ok {
		return OrderView{}, false
	}
	return *v, true
}

// summary counts the orders by status, and the revenue of those paid.
func (m *readModel) summary() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	count := map[string]int{}
	revenue := 0
	for _, v := range m.orders {
		count[v.Status]++
		if v.Status == "paid" || v.Status == "shipped" {
			revenue += v.Total
		}
	}
	return fmt.Sprintf("%d orders: %d placed, %d paid, %d shipped; revenue %d",
		len(m.orders), count["placed"], count["paid"], count["shipped"], revenue)
}
