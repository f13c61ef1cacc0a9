// Command load measures Tributary under load. Each subcommand starts the
// real server (built from ./cmd/api unless -api names a binary) on a
// database of its own, drives it over HTTP from 127.0.0.1, and stops it and
// drops the database at the end, Ctrl-C (SIGINT, SIGTERM, SIGHUP) included;
// a second Ctrl-C kills the server and exits at once, after trying for 5 s
// to drop the databases:
//
//	go run ./cmd/load compare -rounds 5 -duration 3s             # the service against the database beneath it
//	go run ./cmd/load subscribers -subscribers 1000 -rate 200    # live subscriptions: 1 subscriber vs N
//
// "load <subcommand> -h" lists a subcommand's flags. docs/performance.md
// holds the figures and the commands that produced them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// subcommands are the load tool's measurements, by name. A subcommand
// stops what it started and drops what it created when ctx ends, and
// records them in left for a second interrupt to clear at once.
var subcommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer, left *leftovers) error
}{
	{"compare", "the service over HTTP against the same work done straight through the database driver", runCompare},
	{"subscribers", "live subscriptions on GET /events: 1 subscriber, then N, under the same steady writes", runSubscribers},
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := &leftovers{}
	// SIGHUP too: a closed terminal or SSH session must not leave the
	// server and the databases behind any more than Ctrl-C does; unless
	// it is ignored (nohup), which listening for it would undo.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(signals, syscall.SIGHUP)
	}
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "load: %s: stopping the server and dropping the databases (again to exit at once)\n", sig)
		cancel()
		// A run whose clean-up is stuck (a server that ignores SIGTERM, a
		// drop that waits for a lock) can still be ended.
		sig = <-signals
		fmt.Fprintf(os.Stderr, "load: %s again: killing the server and exiting\n", sig)
		left.clear(os.Stderr, lastResortTimeout)
		os.Exit(1)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, left)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errors.New("interrupted; the server was stopped and the database dropped")
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// run runs the subcommand args name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, left *leftovers) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	for _, c := range subcommands {
		if c.name == args[0] {
			if err := c.run(ctx, args[1:], stdout, stderr, left); !errors.Is(err, flag.ErrHelp) {
				return err
			}
			return nil // -h: the flags were listed
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

// commonFlags are the flags every subcommand has.
type commonFlags struct {
	dsn, api string
	json     bool
}

// newFlagSet returns the flag set of a subcommand, with about in its usage
// and c's flags defined; parse it with parseFlags.
func newFlagSet(subcommand, about string, stderr io.Writer, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("load "+subcommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: load %s [flags]\n\n%s\n\nFlags:\n", subcommand, about)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.dsn, "dsn", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB server (go-sql-driver DSN) on which to create the temporary databases")
	fs.StringVar(&c.api, "api", "", "server binary to run (default: go build ./cmd/api into a temporary directory)")
	fs.BoolVar(&c.json, "json", false, "print the results as JSON instead of a table")
	return fs
}

// parseFlags parses args, which must be flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see %s -h", fs.Arg(0), fs.Name())
	}
	return nil
}

// progressTo returns the printf a subcommand reports its progress with.
func progressTo(stderr io.Writer, subcommand string) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(stderr, "load "+subcommand+": "+format+"\n", a...)
	}
}

// printReport writes rep as indented JSON, or with text, and returns an
// error if it found problems.
func printReport(stdout io.Writer, asJSON bool, rep any, text func(io.Writer) error, problems int, serverLog string) error {
	var err error
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = text(stdout)
	}
	if err != nil {
		return err
	}
	if problems > 0 {
		return fmt.Errorf("%d problem(s) found; see the report and the server log %s", problems, serverLog)
	}
	return nil
}
