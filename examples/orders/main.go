// Command orders is an example of event sourcing with Tributary and its Go
// client: an order aggregate that records events, is loaded from its
// stream, saved with the version it was loaded at (sent again, with the
// same event ids, when the answer is lost) and retries a command on a
// conflict; and a projection that subscribes to every order event and
// keeps a read model. Run it against a live server:
//
//	go run ./cmd/api &
//	go run ./examples/orders -server http://localhost:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // Ctrl-C, or a container stopped
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("orders", flag.ContinueOnError)
	server := fs.String("server", "http://localhost:8080", "the Tributary server")
	token := fs.String("token", os.Getenv("TRIBUTARY_TOKEN"), "an access token with the write role, if the server needs one (default $TRIBUTARY_TOKEN)")
	n := fs.Int("orders", 3, "how many orders to place, 0 to 1000")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil // the flags were listed
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the settings are flags (-server, -token, -orders)", fs.Arg(0))
	}
	// Each order is a few requests and the run is bounded by a minute.
	if *n < 0 || *n > 1000 {
		return fmt.Errorf("-orders must be 0 to 1000, got %d", *n)
	}
	c, err := client.New(*server, client.WithToken(*token))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	// The projection follows every order event, from the start of the log,
	// while the commands below write.
	model := newReadModel()
	projected := make(chan error, 1)
	go func() { projected <- model.follow(ctx, c) }()

	ids := make([]uuid.UUID, *n)
	for i := range ids {
		ids[i] = uuid.New()
		id := ids[i]
		steps := []func(*Order) error{
			func(o *Order) error { return o.Place(fmt.Sprintf("customer-%d", i+1)) },
			func(o *Order) error { return o.AddLine("A-1", 2, 10) },
		}
		if i%3 != 2 {
			steps = append(steps, func(o *Order) error { return o.Pay(o.Total) })
		}
		if i%3 == 0 {
			steps = append(steps, func(o *Order) error { return o.Ship("DHL") })
		}
		for _, step := range steps {
			if _, err := execute(ctx, c, id, step); err != nil {
				return err
			}
		}
		o, err := load(ctx, c, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "order %s: %s, total %d, version %d\n", id, o.Status, o.Total, o.Version)
	}

	// Two clerks add a line to a new order at once: both load it at the
	// same version, the first saves, the second is refused and retries.
	raced := uuid.New()
	ids = append(ids, raced)
	if _, err := execute(ctx, c, raced, func(o *Order) error { return o.Place("customer-at-the-counter") }); err != nil {
		return err
	}
	last, err := raceTwoClerks(ctx, c, raced, out) // the last position this run wrote
	if err != nil {
		return err
	}

	// Wait for the projection to reach what was written, then check it
	// against the aggregates loaded from their streams.
	if err := model.waitFor(ctx, last, projected); err != nil {
		return err
	}
	for _, id := range ids {
		o, err := load(ctx, c, id)
		if err != nil {
			return err
		}
		v, ok := model.get(id)
		if !ok || v.Status != o.Status || v.Total != o.Total || v.Lines != len(o.Lines) {
			return fmt.Errorf("the read model has order %s as %+v, but its stream as %s with total %d and %d lines", id, v, o.Status, o.Total, len(o.Lines))
		}
	}
	fmt.Fprintf(out, "read model at position %d: %s\n", last, model.summary())
	fmt.Fprintf(out, "the read model matches the %d orders loaded from their streams\n", len(ids))
	return nil
}

// raceTwoClerks shows optimistic concurrency: the second save is refused
// with ErrWrongExpectedVersion, and execute then loads the order again and
// runs the command again.
func raceTwoClerks(ctx context.Context, c *client.Client, id uuid.UUID, out io.Writer) (int64, error) {
	first, err := load(ctx, c, id)
	if err != nil {
		return 0, err
	}
	second, err := load(ctx, c, id)
	if err != nil {
		return 0, err
	}
	if err := first.AddLine("B-2", 1, 5); err != nil {
		return 0, err
	}
	if _, err := save(ctx, c, first); err != nil {
		return 0, err
	}
	addLine := func(o *Order) error { return o.AddLine("C-3", 3, 7) }
	if err := addLine(second); err != nil {
		return 0, err
	}
	_, err = save(ctx, c, second)
	var p *client.Problem
	switch {
	case err == nil:
		return 0, errors.New("the second clerk's save succeeded; expected a conflict")
	case !errors.Is(err, client.ErrWrongExpectedVersion) || !errors.As(err, &p):
		return 0, fmt.Errorf("the second clerk's save: expected a conflict: %w", err)
	}
	fmt.Fprintf(out, "conflict: order %s was loaded at version %d but is now at %d; running the command again\n",
		id, second.Version, p.CurrentVersion)
	last, err := execute(ctx, c, id, addLine)
	if err != nil {
		return 0, err
	}
	o, err := load(ctx, c, id)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "order %s: %s, total %d, version %d, with both clerks' lines\n", id, o.Status, o.Total, o.Version)
	return last, nil
}
