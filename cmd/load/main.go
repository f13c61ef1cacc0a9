// Command load measures Tributary under load. Each subcommand starts the
// real server (built from ./cmd/api unless -api names a binary) on a
// database of its own, drives it over HTTP from 127.0.0.1, and stops it and
// drops the database at the end, Ctrl-C included:
//
//	go run ./cmd/load compare -rounds 5 -duration 3s             # the service against the database beneath it
//	go run ./cmd/load subscribers -subscribers 1000 -rate 200    # live subscriptions: 1 subscriber vs N
//
// "load <subcommand> -h" lists a subcommand's flags. docs/performance.md
// holds the figures and the commands that produced them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// subcommands are the load tool's measurements, by name.
var subcommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"compare", "the service over HTTP against the same work done straight through the database driver", runCompare},
	{"subscribers", "live subscriptions on GET /events: 1 subscriber, then N, under the same steady writes", runSubscribers},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errors.New("interrupted; the server was stopped and the database dropped")
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// run runs the subcommand args name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	for _, c := range subcommands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: load <subcommand> [flags]   (load <subcommand> -h: its flags)\n\nSubcommands:")
	for _, c := range subcommands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}
