package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

// The examples are compiled, not run: they need a server. The behaviour
// they show is proved by the package's tests against the service's own
// handler and, in tests/client_test.go, against the real binary.

// An append with an expected version: on a conflict, the Problem says the
// stream's version, from which the caller reads what it missed and
// decides again. The events carry their own ids, so that an append whose
// outcome is unknown (a lost answer) is sent again safely.
func ExampleClient_Append() {
	ctx := context.Background()
	c, err := client.New("http://localhost:8080", client.WithToken("s3cret"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	order := client.StreamRef{ID: uuid.MustParse("0190f2a0-7c1e-7d43-9a65-5b1f3c2e8d10"), Type: "order"}
	shipped := client.NewEvent{ID: uuid.New(), Type: "OrderShipped", Data: map[string]any{"carrier": "DHL"}}
	for attempt := 0; attempt < 3; attempt++ {
		res, err := c.Append(ctx, order, client.Exactly(3), shipped)
		var p *client.Problem
		switch {
		case err == nil:
			fmt.Println("stored at version", res.Version, "position", res.Events[0].Position, "again:", res.Duplicate)
			return
		case errors.Is(err, client.ErrWrongExpectedVersion) && errors.As(err, &p):
			fmt.Println("the stream moved on to version", p.CurrentVersion)
			return // read from version 4 on, and decide again
		case errors.Is(err, client.ErrOutcomeUnknown):
			continue // the same ids: stored once whatever happened
		case errors.Is(err, client.ErrUnavailable) && errors.As(err, &p):
			time.Sleep(min(max(p.RetryAfter, time.Second), time.Minute)) // bounded: see Problem.RetryAfter
			continue
		default:
			log.Fatal(err)
		}
	}
}

// A stream read page by page, backward from its last version: the loop
// follows the server's next links by itself.
func ExampleClient_ReadStream() {
	ctx := context.Background()
	c, err := client.New("http://localhost:8080")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	id := uuid.MustParse("0190f2a0-7c1e-7d43-9a65-5b1f3c2e8d10")
	for e, err := range c.ReadStream(ctx, id, client.ReadStreamOptions{Direction: client.Backward}) {
		if errors.Is(err, client.ErrNotFound) {
			fmt.Println("no such stream")
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
}

// A projection that follows the global log from the position it saved:
// the subscription reconnects by itself after a dropped connection, a
// restart or a 503 (waiting the server's Retry-After), and resumes after
// the last event it delivered, so nothing is missed or delivered twice.
// It ends only with ctx, or with an error retrying cannot mend.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New("http://localhost:8080")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	saved := int64(0) // the last position the projection stored
	opts := client.SubscribeOptions{
		After:       saved,
		StreamTypes: []string{"order"},
		OnDisconnect: func(err error, retryIn time.Duration) {
			log.Printf("subscription dropped (%v); again in %s", err, retryIn)
		},
	}
	for m, err := range c.Subscribe(ctx, opts) {
		if errors.Is(err, client.ErrLogReset) {
			log.Fatal("the database was reset or restored: rebuild the projection")
		}
		if err != nil {
			log.Fatal(err)
		}
		if m.CaughtUp {
			fmt.Println("live from position", m.At)
			continue
		}
		saved = m.Event.Position // store it with the projection's own write
	}
}
