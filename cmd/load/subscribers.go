package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// subscribersConfig is what the flags of "load subscribers" set.
type subscribersConfig struct {
	commonFlags
	subscribers int
	rate        float64 // appends per second
	duration    time.Duration
	warmup      time.Duration
	settle      time.Duration
	drain       time.Duration
	writers     int
	streams     int
}

// Bounds keep a mistyped flag from running for hours or opening a million
// connections.
const (
	maxSubscribers = 20000
	maxRate        = 5000
	maxDuration    = 10 * time.Minute
)

func parseSubscribersFlags(args []string, stderr io.Writer) (subscribersConfig, error) {
	var c subscribersConfig
	fs := newFlagSet("subscribers", "Measures live subscriptions: 1 subscriber, then -subscribers, under the same steady writes.", stderr, &c.commonFlags)
	fs.IntVar(&c.subscribers, "subscribers", 1000, "subscribers on /events in the second phase (the first has 1)")
	fs.Float64Var(&c.rate, "rate", 200, "appends per second, one event each")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "measured writing time per phase")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "writing time per phase before measuring")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "idle time with subscribers connected before writing (idle RSS and query rate)")
	fs.DurationVar(&c.drain, "drain", 15*time.Second, "how long to wait after the last append for every subscriber to have every event")
	fs.IntVar(&c.writers, "writers", 32, "most appends in flight; enough that a slower server does not lower the rate")
	fs.IntVar(&c.streams, "streams", 16, "streams the appends go to, in turn")
	if err := parseFlags(fs, args); err != nil {
		return subscribersConfig{}, err
	}
	var errs []error
	if c.subscribers < 2 || c.subscribers > maxSubscribers {
		errs = append(errs, fmt.Errorf("-subscribers must be 2 to %d, got %d", maxSubscribers, c.subscribers))
	}
	if !(c.rate >= 1 && c.rate <= maxRate) {
		errs = append(errs, fmt.Errorf("-rate must be 1 to %d appends per second, got %g", maxRate, c.rate))
	}
	if c.duration < time.Second || c.duration > maxDuration {
		errs = append(errs, fmt.Errorf("-duration must be 1s to %s, got %s", maxDuration, c.duration))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"warmup", c.warmup, 0}, {"settle", c.settle, time.Second}, {"drain", c.drain, time.Second}} {
		if d.v < d.min || d.v > time.Minute {
			errs = append(errs, fmt.Errorf("-%s must be %s to 1m, got %s", d.name, d.min, d.v))
		}
	}
	if c.writers < 1 || c.writers > 256 {
		errs = append(errs, fmt.Errorf("-writers must be 1 to 256, got %d", c.writers))
	}
	if c.streams < 1 || c.streams > 100000 {
		errs = append(errs, fmt.Errorf("-streams must be 1 to 100000, got %d", c.streams))
	}
	return c, errors.Join(errs...)
}

// "load subscribers" measures what live subscriptions cost Tributary: it starts
// the real server on 127.0.0.1 with a database of its own, opens subscribers
// on GET /events (server-sent events), appends events at a steady rate, and
// compares one subscriber (the baseline) with N subscribers.
//
//	go run ./cmd/load subscribers -subscribers 1000 -rate 200 -duration 15s
//
// It needs a MySQL or MariaDB server (-dsn, default root on 127.0.0.1:3306),
// on which it creates a uniquely named database and drops it at the end. It
// builds ./cmd/api unless -api names a binary. Everything it starts is
// stopped on exit, Ctrl-C included; the server's log is kept in a temporary
// file whose path is printed.
//
// Each of the two phases connects its subscribers, waits until all are
// caught up, leaves them idle for -settle, then writes for -warmup plus
// -duration and waits until every subscriber has every event. It reports:
//
//   - delivery: every subscriber must receive every event written in the
//     phase exactly once and in order; a loss, duplicate or dropped
//     connection is an error and the exit status is 1.
//   - commit→delivery latency: from the moment the writer received the
//     append's 201 to the moment a subscriber parsed the event's frame, over
//     every (subscriber, event) pair written after the warm-up. Both clocks
//     are this process's, so they agree; a frame can arrive before the 201
//     (the server wakes its feed before it answers), which makes a few
//     values negative. The load tool shares the CPUs with the server and the
//     database, so its own scheduling delay is part of the figure.
//   - append round trip: from the moment an append was due to its 201, to
//     see whether subscribers slow writers down. An append due while every
//     writer is busy waits in a short queue, and that wait counts: timed
//     from when a writer took it, the slower the server, the more of its
//     delay the figure would leave out. The same appends' durations in the
//     server's access log leave out this tool's share, and the queue.
//   - database statements per second of this server, from its /metrics
//     (tributary_db_statements_total), during the measured window and
//     while idle: all of them and by kind; the live feed's (its one tailer
//     per process, and the subscriptions' catch-up reads) must not grow
//     with N. Statements per append, and
//     group commits (tributary_group_commit_*): how many per second, how
//     many appends each took, and their mean transaction time. MariaDB's
//     global Questions and Com_select are shown too, but they count every
//     client of the database server (the other connections seen are listed
//     in the -json output).
//   - server memory: VmRSS of the server process before the subscribers
//     connect, once they are connected and idle, at its peak during the
//     writes, at the end, and -settle after they disconnected, with the
//     count of subscriptions the server's access log shows it has ended (all
//     of them, or handlers were left running). Memory per subscriber is
//     (idle RSS with N − RSS just before they connected) / N, both read
//     after the first phase's writes; (idle RSS with N − idle RSS with 1) /
//     (N − 1) is printed too, but it also counts the heap those writes grew.
//     RSS includes garbage the Go runtime has not collected or returned yet,
//     so read it to ±10 % or so.
//   - CPU over the window, in cores: the server's, this tool's, and the
//     rest of the machine's: the database, and anything
//     else running. On a shared machine, look there first when figures move
//     between runs.
//
// Absolute figures on a shared machine move between runs; compare the two
// phases of one run, and run it more than once.
//
// runSubscribers measures one subscriber, then cfg.subscribers, and prints
// the report. It returns an error when the run could not be completed or
// when events were lost, duplicated or not written; the report is printed
// first then.
func runSubscribers(ctx context.Context, args []string, stdout, stderr io.Writer, left *leftovers) error {
	cfg, err := parseSubscribersFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := progressTo(stderr, "subscribers")

	// Each subscriber is a descriptor here and one in the server, which
	// inherits this process's limit.
	if err := raiseFileLimit(uint64(cfg.subscribers) + 1024); err != nil {
		return err
	}

	db, err := createDatabase(ctx, cfg.dsn)
	if err != nil {
		return err
	}
	left.addDatabase(db)
	defer dropDatabase(db, progress)
	progress("created database %s", db.name)

	tmp, err := os.MkdirTemp("", "load-subscribers-")
	if err != nil {
		return fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	left.addDir(tmp)
	srv, err := start(ctx, cfg.api, tmp, true, progress, left, "TRIBUTARY_MYSQL_DSN="+db.dsn())
	if srv != nil {
		defer srv.stop() //nolint:errcheck // stopped and checked below on the normal path
	}
	if err != nil {
		return err
	}

	lt := newLoadTest(cfg, srv, db, progress)
	defer lt.close()
	rep := report{Config: reportConfig(cfg), ServerBuild: srv.build, ServerLog: srv.logPath}
	for _, n := range []int{1, cfg.subscribers} {
		res, err := lt.phase(ctx, n)
		if err != nil {
			return fmt.Errorf("phase with %d subscribers: %w", n, srv.explain(ctx, err))
		}
		rep.Phases = append(rep.Phases, res)
	}
	lt.close()

	progress("stopping the server")
	stopErr := srv.stop()
	rep.finish(srv.logSummary(), db.others(), stopErr)
	return printReport(stdout, cfg.json, rep, rep.writeTable, len(rep.Problems), srv.logPath)
}
