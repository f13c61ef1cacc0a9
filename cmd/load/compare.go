package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tributary-dev/tributary/client"
)

// "load compare" measures how close the service comes to the database
// beneath it, the measure of issue 12. It starts the real server on a
// database of its own and, on a second scratch database with the same
// schema (migrated by the same code), does the same work straight through
// the database driver, with the service's driver settings: the "raw"
// figures, what the database can do without Tributary in front of it.
//
//	go run ./cmd/load compare -rounds 5 -duration 3s             # MySQL/MariaDB at -dsn
//	go run ./cmd/load compare -store sqlite -rounds 5 -duration 3s
//
// Each measurement runs on both sides, one after the other, in every round
// (the side that goes first alternates), so both see the same machine; the
// figures are the medians over the rounds, and each ratio is the median of
// the rounds' service ÷ raw throughput. A ratio of 1 means the service does
// the work as fast as the database alone. The measurements:
//
//   - append, 1, 8 and 32 clients: raw, one single-row INSERT per event,
//     auto-committed (one durable transaction per event), each client its
//     own stream; the service, one POST of one event with If-Match the
//     version the client knows, each client its own stream.
//   - append 100-event batches, 1 client: raw, one 100-row INSERT
//     transaction; the service, one POST of 100 events.
//   - read a 10,000-event stream in pages of 1,000: raw, ten SELECTs by
//     stream and version range; the service, GET /streams/{id}/events with
//     limit=1000, following Link rel="next".
//   - read the log's first 10,000 events in pages of 1,000: raw, ten
//     SELECTs by position; the service, GET /events, following the links.
//     Both reads decode every field of every event into the same value
//     (readEvent): raw, from the driver's rows; the service, from the
//     pages' JSON.
//
// Raw positions come from a counter in this process, not from a lock held
// to COMMIT: that ordering is the work the service adds (see the README).
// On SQLite, raw writes go through one connection, as the service's do: it
// serialises writers anyway, and several connections would only wait in
// its busy handler.

// compareConfig is what the flags of "load compare" set.
type compareConfig struct {
	commonFlags
	store    string // "mysql" or "sqlite"
	rounds   int
	duration time.Duration
	warmup   time.Duration
	only     []string // measurement keys to run; empty: all
}

func parseCompareFlags(args []string, stderr io.Writer) (compareConfig, error) {
	var c compareConfig
	fs := newFlagSet("compare", "Measures the service over HTTP against the same work done straight through the database driver,\n"+
		"interleaved in rounds, and prints a markdown table with the targets of issue 12.", stderr, &c.commonFlags)
	fs.StringVar(&c.store, "store", "mysql", "the store to measure: mysql (the server at -dsn) or sqlite (the embedded store, in a temporary directory)")
	fs.IntVar(&c.rounds, "rounds", 5, "rounds; every measurement runs once per round on each side, and the medians are reported")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "measured time of each measurement on each side")
	fs.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each measurement")
	only := fs.String("only", "", "comma-separated keys of the measurements to run (default: all): "+strings.Join(measurementKeys(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return compareConfig{}, err
	}
	var errs []error
	if *only != "" {
		c.only = strings.Split(*only, ",")
		for _, k := range c.only {
			if !slices.Contains(measurementKeys(), k) {
				errs = append(errs, fmt.Errorf("-only: no measurement %q (the keys: %s)", k, strings.Join(measurementKeys(), ", ")))
			}
		}
	}
	if c.store != "mysql" && c.store != "sqlite" {
		errs = append(errs, fmt.Errorf("-store must be mysql or sqlite, got %q", c.store))
	}
	if c.rounds < 1 || c.rounds > 20 {
		errs = append(errs, fmt.Errorf("-rounds must be 1 to 20, got %d", c.rounds))
	}
	if c.duration < 50*time.Millisecond || c.duration > 2*time.Minute {
		errs = append(errs, fmt.Errorf("-duration must be 50ms to 2m, got %s", c.duration))
	}
	if c.warmup < 0 || c.warmup > 30*time.Second {
		errs = append(errs, fmt.Errorf("-warmup must be 0 to 30s, got %s", c.warmup))
	}
	return c, errors.Join(errs...)
}

// op does one unit of work for client number client (0 ≤ client < the
// measurement's clients) and returns how many events it wrote or read.
type op func(ctx context.Context, client int) (events int, err error)

// side is one way of doing the work: straight through the driver, or
// through the service. Each method prepares a fresh run of one measurement
// (new streams for appends) and returns its op.
type side interface {
	appends(clients, batch int) op
	readStream() op
	readLog() op
}

// readEvent is one event as both sides' reads decode it, so that their
// clients do the same work: the Go client's Event, every field into a Go
// value, data and metadata kept as the JSON they are. The raw side scans
// the driver's row into it, the service side decodes the page's JSON into
// it with the JSON package the server uses
// (github.com/go-json-experiment/json, encoding/json/v2's).
type readEvent = client.Event

// checkPage checks, on both sides alike, that a page's events are in the
// log's order after position after, and returns the last position.
func checkPage(events []readEvent, after int64) (int64, error) {
	for _, e := range events {
		if e.Position <= after {
			return after, fmt.Errorf("position %d after %d: the log's order is increasing", e.Position, after)
		}
		after = e.Position
	}
	return after, nil
}

// measurement is one row of the table.
type measurement struct {
	Key     string  `json:"key"`
	Name    string  `json:"name"`
	Op      string  `json:"op"` // what one latency sample is
	Clients int     `json:"clients"`
	Target  float64 `json:"target,omitempty"` // issue 12's lowest acceptable service ÷ raw; 0: none
	prepare func(s side) op
}

// measurements are the rows, in order, with the targets of issue 12.
func measurements() []measurement {
	appends := func(clients, batch int) func(side) op {
		return func(s side) op { return s.appends(clients, batch) }
	}
	return []measurement{
		{Key: "append_1", Name: "append 1 event, 1 client", Op: "append", Clients: 1, Target: 0.6, prepare: appends(1, 1)},
		{Key: "append_8", Name: "append 1 event, 8 clients", Op: "append", Clients: 8, Target: 0.8, prepare: appends(8, 1)},
		{Key: "append_32", Name: "append 1 event, 32 clients", Op: "append", Clients: 32, Target: 1.0, prepare: appends(32, 1)},
		{Key: "batch_100", Name: "append 100-event batches, 1 client", Op: "batch", Clients: 1, Target: 0.6, prepare: appends(1, batchSize)},
		{Key: "read_stream", Name: "read a 10,000-event stream, pages of 1,000", Op: "10,000 events", Clients: 1, Target: 0.5,
			prepare: func(s side) op { return s.readStream() }},
		{Key: "read_log", Name: "read 10,000 events of the log, pages of 1,000", Op: "10,000 events", Clients: 1,
			prepare: func(s side) op { return s.readLog() }},
	}
}

// measurementKeys are the measurements' keys, in order.
func measurementKeys() []string {
	var keys []string
	for _, m := range measurements() {
		keys = append(keys, m.Key)
	}
	return keys
}

const (
	batchSize  = 100
	readEvents = 10000 // events in the stream that is read, and read from the log
	pageSize   = 1000
	// opTimeout bounds one op; an op that takes longer fails the run.
	opTimeout = 30 * time.Second
	// eventData is the payload of every event written: about 60 bytes of
	// JSON, as in the store benchmarks (storetest.BenchData).
	eventData  = `{"sku":"A-1","qty":2,"price":{"amount":1999,"currency":"EUR"}}`
	streamType = "order"
	eventType  = "ItemAdded"
)

// runCompare runs "load compare".
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer, left *leftovers) error {
	cfg, err := parseCompareFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := progressTo(stderr, "compare")
	tmp, err := os.MkdirTemp("", "load-compare-")
	if err != nil {
		return fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	left.addDir(tmp)

	// The raw side, and the server's store.
	var raw *rawSide
	var storeEnv []string
	if cfg.store == "mysql" {
		serverDB, err := createDatabase(ctx, cfg.dsn)
		if err != nil {
			return err
		}
		left.addDatabase(serverDB)
		defer dropDatabase(serverDB, progress)
		rawDB, err := createDatabase(ctx, cfg.dsn)
		if err != nil {
			return err
		}
		left.addDatabase(rawDB)
		defer dropDatabase(rawDB, progress)
		progress("created databases %s (the service's) and %s (raw)", serverDB.name, rawDB.name)
		if raw, err = openRawMySQL(ctx, rawDB.dsn()); err != nil {
			return err
		}
		storeEnv = []string{"TRIBUTARY_MYSQL_DSN=" + serverDB.dsn()}
	} else {
		if raw, err = openRawSQLite(ctx, filepath.Join(tmp, "raw")); err != nil {
			return err
		}
		storeEnv = []string{"TRIBUTARY_DATA_DIR=" + filepath.Join(tmp, "service")} // no TRIBUTARY_MYSQL_DSN: the embedded store
	}
	defer raw.close()

	// The access log is not parsed: that would cost this process CPU
	// during the service's measurements only.
	srv, err := start(ctx, cfg.api, tmp, false, progress, left, storeEnv...)
	if srv != nil {
		defer srv.stop() //nolint:errcheck // stopped and checked below on the normal path
	}
	if err != nil {
		return err
	}
	svc := newServiceSide(srv.url)
	defer svc.close()

	progress("writing the %d-event stream both sides read", readEvents)
	if err := raw.seed(ctx); err != nil {
		return err
	}
	if err := svc.seed(ctx); err != nil {
		return srv.explain(ctx, err)
	}

	rep := compareReport{Config: compareSettings{
		Store: cfg.store, Rounds: cfg.rounds, DurationSeconds: cfg.duration.Seconds(), WarmupSeconds: cfg.warmup.Seconds(),
		Database: raw.version, CPUs: runtime.NumCPU(), CPUModel: cpuModel(), GoVersion: runtime.Version(), ServerBuild: srv.build, ServerLog: srv.logPath,
	}}
	for _, m := range measurements() {
		if len(cfg.only) == 0 || slices.Contains(cfg.only, m.Key) {
			rep.Results = append(rep.Results, compareResult{measurement: m})
		}
	}
	usage0, err := takeCPUUsage(srv.pid())
	if err != nil {
		progress("machine CPU not measured: %s", err.Error())
	}
	for round := range cfg.rounds {
		for i := range rep.Results {
			r := &rep.Results[i]
			sides := []struct {
				name string
				s    side
				to   *[]sideRun
			}{{"raw", raw, &r.rawRuns}, {"service", svc, &r.serviceRuns}}
			if round%2 == 1 {
				slices.Reverse(sides)
			}
			for _, s := range sides {
				run, err := measureSide(ctx, cfg, srv, svc.client, r, s.name, s.s)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round+1, r.Name, s.name, err)
				}
				*s.to = append(*s.to, run)
			}
			rr, sr := r.rawRuns[round], r.serviceRuns[round]
			progress("round %d/%d: %-46s raw %8.0f events/s, service %8.0f events/s: %.2f×",
				round+1, cfg.rounds, r.Name, rr.EventsPerSec, sr.EventsPerSec, sr.EventsPerSec/rr.EventsPerSec)
		}
		// For reference: an HTTP round trip that does no database work.
		floor, err := measure(ctx, 1, cfg.warmup, cfg.duration, svc.healthz())
		if err != nil {
			return fmt.Errorf("round %d, the HTTP floor: %w", round+1, srv.explain(ctx, err))
		}
		rep.floorRuns = append(rep.floorRuns, floor)
		progress("round %d/%d: %-46s %8.0f requests/s, p50 %s ms", round+1, cfg.rounds, "HTTP floor: GET /healthz, 1 client", floor.EventsPerSec, ms(floor.P50Ms))
		if raw.locked != nil {
			ordered, err := measure(ctx, 1, cfg.warmup, cfg.duration, raw.orderedFloor())
			if err != nil {
				return fmt.Errorf("round %d, the ordered floor: %w", round+1, err)
			}
			rep.orderedRuns = append(rep.orderedRuns, ordered)
			progress("round %d/%d: %-46s %8.0f events/s, p50 %s ms", round+1, cfg.rounds, "ordered floor: raw locked insert, 1 client", ordered.EventsPerSec, ms(ordered.P50Ms))
		}
	}
	if usage1, err := takeCPUUsage(srv.pid()); err == nil && usage0.at != (time.Time{}) {
		rep.CPU = usage1.since(usage0)
	}

	progress("stopping the server")
	stopErr := srv.stop()
	rep.finish(srv.logSummary(), stopErr)
	return printReport(stdout, cfg.json, rep, rep.writeMarkdown, len(rep.Problems), srv.logPath)
}

// measureSide runs measurement r once on side s, named name, with the
// service's group commits for its appends, from its /metrics.
func measureSide(ctx context.Context, cfg compareConfig, srv *server, client *http.Client, r *compareResult, name string, s side) (sideRun, error) {
	if err := srv.running(); err != nil {
		return sideRun{}, err
	}
	counts := name == "service" && r.Op == "append"
	var before serverCounts
	var err error
	if counts {
		if before, err = srv.metrics(ctx, client); err != nil {
			return sideRun{}, srv.explain(ctx, err)
		}
	}
	run, err := measure(ctx, r.Clients, cfg.warmup, cfg.duration, r.prepare(s))
	if err != nil {
		return sideRun{}, srv.explain(ctx, err)
	}
	if counts {
		after, err := srv.metrics(ctx, client)
		if err != nil {
			return sideRun{}, srv.explain(ctx, err)
		}
		g := rate(before, after)
		run.AppendsPerCommit, run.CommitMs = g.AppendsPerCommit, g.CommitMs
	}
	return run, nil
}

func dropDatabase(db *database, progress func(string, ...any)) {
	if err := db.drop(); err != nil {
		progress("%s", err.Error())
	}
}

// sideRun is one measurement on one side in one round.
type sideRun struct {
	// Ops and Events are those of the ops that overlap the measured window,
	// whole or in part; EventsPerSec counts each by its share inside it.
	Ops          int     `json:"ops"`
	Events       int     `json:"events"`
	EventsPerSec float64 `json:"events_per_sec"`
	P50Ms        float64 `json:"p50_ms"` // per op, of the same ops
	P99Ms        float64 `json:"p99_ms"`
	// The service's appends only, warm-up included: the mean appends per
	// group commit, and its mean time.
	AppendsPerCommit float64 `json:"appends_per_group_commit,omitempty"`
	CommitMs         float64 `json:"group_commit_mean_ms,omitempty"`
}

// sample is one op as a client saw it.
type sample struct {
	end    time.Time
	took   time.Duration
	events int
}

// share is the part of s's time that lies between from and to: 1 for an op
// inside, 0 for one outside.
func (s sample) share(from, to time.Time) float64 {
	if s.took <= 0 { // too quick for the clock: where it ended decides
		if s.end.Before(from) || s.end.After(to) {
			return 0
		}
		return 1
	}
	start := s.end.Add(-s.took)
	if start.Before(from) {
		start = from
	}
	end := s.end
	if end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return float64(end.Sub(start)) / float64(s.took)
}

// measure runs op on clients goroutines, each back to back, for warmup
// plus duration, and sums up the ops that overlap the measured window, each
// by its share of time inside it: counting the ops that end inside instead
// leaves out the one each client has under way at the end and counts whole
// the one begun in the warm-up, up to an op per client too few or too many
// (a tenth of a 300 ms window at 30 ms an op). A client starts no op after
// the window, so every op that overlaps it has ended when measure returns,
// and at least one does, however long an op takes.
// The first error stops every client and is returned.
func measure(ctx context.Context, clients int, warmup, duration time.Duration, op op) (sideRun, error) {
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+duration)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	samples := make([][]sample, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for time.Now().Before(to) && ctx.Err() == nil {
				opCtx, done := context.WithTimeout(ctx, opTimeout)
				t0 := time.Now()
				n, err := op(opCtx, c)
				end := time.Now()
				done()
				if err != nil {
					cancel(err)
					return
				}
				samples[c] = append(samples[c], sample{end: end, took: end.Sub(t0), events: n})
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return sideRun{}, err
	}
	var run sideRun
	var events float64
	var took []time.Duration
	for _, ss := range samples {
		for _, s := range ss {
			share := s.share(from, to)
			if share == 0 {
				continue
			}
			run.Ops++
			run.Events += s.events
			events += share * float64(s.events)
			took = append(took, s.took)
		}
	}
	if run.Ops == 0 {
		return sideRun{}, errors.New("no op overlapped the measured window")
	}
	run.EventsPerSec = events / duration.Seconds()
	l := summarise(took)
	run.P50Ms, run.P99Ms = l.P50Ms, l.P99Ms
	return run, nil
}
