package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// The end-to-end tests build this tool and the server, and run each
// subcommand for a moment: they prove the tool still works, not what it
// measures.

var (
	// binDir holds the binaries; TestMain makes and removes it.
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeAPIEnv); mode != "" {
		fakeAPI(mode) // this binary is a server the load tool runs
		return
	}
	dir, err := os.MkdirTemp("", "load-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaries builds ./cmd/load and ./cmd/api once per test run and returns
// their paths.
func binaries(t *testing.T) (load, api string) {
	t.Helper()
	buildOnce.Do(func() {
		// Not t.TempDir: the binaries outlive the test that built them.
		for _, name := range []string{"load", "api"} {
			if _, buildErr = build(context.Background(), name, binDir); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "load"), filepath.Join(binDir, "api")
}

// serverDSN returns a DSN for the MySQL/MariaDB server the tests use, or
// skips the test as mysqltest does when there is none.
func serverDSN(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t)) // skips without a server
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = ""
	return cfg.FormatDSN()
}

// runLoad runs the load tool with args and returns its stdout; the test
// fails if it does not exit 0 within two minutes.
func runLoad(t *testing.T, args ...string) []byte {
	t.Helper()
	load, _ := binaries(t)
	cmd := exec.Command(load, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("load %s: %v; expected exit status 0. stderr:\n%s\nstdout:\n%s", strings.Join(args, " "), err, stderr.Bytes(), stdout.Bytes())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-done
		t.Fatalf("load %s did not finish within 2 minutes. stderr:\n%s", strings.Join(args, " "), stderr.Bytes())
	}
	return stdout.Bytes()
}

func TestCompareRunsEndToEnd(t *testing.T) {
	for _, store := range []string{"sqlite", "mysql"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			_, api := binaries(t)
			args := []string{"compare", "-store", store, "-api", api, "-rounds", "1", "-duration", "500ms", "-warmup", "0s", "-json"}
			if store == "mysql" {
				args = append(args, "-dsn", serverDSN(t))
			}
			out := runLoad(t, args...)
			var rep compareReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("expected the -json report on stdout, got %v:\n%s", err, out)
			}
			if len(rep.Results) != len(measurements()) {
				t.Fatalf("expected %d results, got %d", len(measurements()), len(rep.Results))
			}
			if f := rep.HTTPFloor; f.EventsPerSec <= 0 || f.P50Ms <= 0 || len(f.Runs) != 1 {
				t.Errorf("expected the HTTP floor measured once, with requests/s and a p50, got %+v", f)
			}
			switch f := rep.OrderedFloor; {
			case store == "sqlite" && (f != nil || rep.OneClientCeiling != 0):
				t.Errorf("sqlite: expected no ordered floor (its raw writes are serialised already), got %+v, ceiling %g", f, rep.OneClientCeiling)
			case store == "mysql" && (f == nil || f.EventsPerSec <= 0 || f.P50Ms <= 0 || len(f.Runs) != 1):
				t.Errorf("mysql: expected the ordered floor measured once, with events/s and a p50, got %+v", f)
			case store == "mysql":
				var raw compareResult
				for _, r := range rep.Results {
					if r.Key == "append_1" {
						raw = r
					}
				}
				if want := raw.Raw.P50Ms / (f.P50Ms + rep.HTTPFloor.P50Ms); rep.OneClientCeiling <= 0 || math.Abs(rep.OneClientCeiling-want) > 1e-9 {
					t.Errorf("mysql: one-client ceiling %g, expected the raw insert's p50 over the two floors' p50s, %g", rep.OneClientCeiling, want)
				}
			}
			checkServerBuild(t, out, api, "config", "server_build")
			for _, r := range rep.Results {
				if r.Raw.EventsPerSec <= 0 || r.Service.EventsPerSec <= 0 || r.Ratio <= 0 {
					t.Errorf("%s: expected events/s on both sides and a ratio, got raw %g, service %g, ratio %g",
						r.Key, r.Raw.EventsPerSec, r.Service.EventsPerSec, r.Ratio)
				}
				if appends := r.Op == "append"; appends != (r.Service.AppendsPerCommit >= 1 && r.Service.CommitMs > 0) || r.Raw.AppendsPerCommit != 0 {
					t.Errorf("%s: service %g appends per group commit of %g ms, raw %g; expected them for the service's appends alone",
						r.Key, r.Service.AppendsPerCommit, r.Service.CommitMs, r.Raw.AppendsPerCommit)
				}
				if (r.Target > 0) != (r.Met != nil) {
					t.Errorf("%s: target %g but met %v; expected met to be given exactly when there is a target", r.Key, r.Target, r.Met)
				}
			}
		})
	}
}

func TestSubscribersRunsEndToEnd(t *testing.T) {
	t.Parallel()
	_, api := binaries(t)
	out := runLoad(t, "subscribers", "-api", api, "-dsn", serverDSN(t), "-subscribers", "3", "-rate", "20",
		"-duration", "1s", "-warmup", "0s", "-settle", "1s", "-drain", "5s", "-json")
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("expected the -json report on stdout, got %v:\n%s", err, out)
	}
	if len(rep.Phases) != 2 || rep.Phases[1].Subscribers != 3 || rep.Phases[1].DeliveredMin == 0 {
		t.Errorf("expected two phases, the second with 3 subscribers who each got events; got %+v", rep.Phases)
	}
	if rep.Phases[1].DB.Statements <= 0 {
		t.Errorf("expected the server's /metrics to count its statements, got %+v", rep.Phases[1].DB)
	}
	checkServerBuild(t, out, api, "server_build")
}

// checkServerBuild fails t unless the -json report out holds, at the path
// of object keys at, the build of the server binary api as Go recorded it
// (what go version -m prints) and the binary's SHA-256: a report says
// which server it measured.
func checkServerBuild(t *testing.T, out []byte, api string, at ...string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	for _, key := range at {
		m, _ := v.(map[string]any)
		v = m[key]
	}
	got, _ := v.(map[string]any)
	bi, err := buildinfo.ReadFile(api)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(api)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"binary": api, "sha256": fmt.Sprintf("%x", sha256.Sum256(b)), "go_version": bi.GoVersion, "path": bi.Path}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			want["vcs_revision"] = s.Value
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("-json %s.%s = %v; expected %v, the server binary's", strings.Join(at, "."), k, got[k], w)
		}
	}
}

func TestMedianAndThousands(t *testing.T) {
	t.Parallel()
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3, 1, 2 = %g, expected 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4, 1, 3, 2 = %g, expected 2.5", got)
	}
	for v, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%g) = %q, expected %q", v, got, want)
		}
	}
}

func TestCompareOnlyRunsTheNamedMeasurements(t *testing.T) {
	t.Parallel()
	c, err := parseCompareFlags([]string{"-only", "read_stream,append_1"}, io.Discard)
	if err != nil || !slices.Equal(c.only, []string{"read_stream", "append_1"}) {
		t.Errorf("-only read_stream,append_1: expected those two keys, got %q, %v", c.only, err)
	}
	if _, err := parseCompareFlags([]string{"-only", "read_stream,reads"}, io.Discard); err == nil || !strings.Contains(err.Error(), `"reads"`) {
		t.Errorf("-only with an unknown key: expected an error naming it, got %v", err)
	}
}

// TestMeasureCountsAnOpLongerThanTheWindowOverTheTimeItTook: on a slow
// machine an op can take longer than -duration; the run then measures
// that op over the time it took rather than fail, and where it began in
// the warm-up its events are over all of that time, not only the part of
// it after the warm-up.
func TestMeasureCountsAnOpLongerThanTheWindowOverTheTimeItTook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		op             time.Duration // how long the one op takes
		warmup, window time.Duration
	}{
		{"in the window", 120 * time.Millisecond, 0, 50 * time.Millisecond},
		{"begun in the warm-up", 150 * time.Millisecond, 100 * time.Millisecond, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slow := func(ctx context.Context, _ int) (int, error) {
				time.Sleep(tc.op)
				return 10, nil
			}
			run, err := measure(context.Background(), 1, tc.warmup, tc.window, slow)
			if err != nil || run.Ops != 1 || run.Events != 10 {
				t.Fatalf("an op of %v after a %v warm-up, in a %v window: expected it measured, got %+v, %v", tc.op, tc.warmup, tc.window, run, err)
			}
			if most := 10 / tc.op.Seconds(); run.EventsPerSec > most || run.EventsPerSec < 10/0.5 {
				t.Errorf("expected about %.0f events/s (10 events in %v), got %.1f", most, tc.op, run.EventsPerSec)
			}
		})
	}
}

// TestMeasureCountsEachOpByItsShareOfTheWindow: ops of 60 ms in a 100 ms
// window. Counting the ops that end inside it gave one op per client over
// 100 ms without a warm-up (40 % low: the op that runs past the end was
// left out) and two after a 30 ms one (20 % high: the op begun in the
// warm-up counted whole). Each op counts for the share of it inside the
// window, which makes the rate the ops' own, 10 events per op's time.
func TestMeasureCountsEachOpByItsShareOfTheWindow(t *testing.T) {
	t.Parallel()
	op := func(ctx context.Context, _ int) (int, error) {
		time.Sleep(60 * time.Millisecond)
		return 10, nil
	}
	for _, tc := range []struct {
		clients int
		warmup  time.Duration
	}{{1, 0}, {3, 0}, {2, 30 * time.Millisecond}} {
		// A busy machine can hold one sleep up past its 60 ms, which moves
		// a window of two ops by far more than its median op: the count is
		// wrong only if no run of three comes out right (the errors above
		// are in every run).
		var failures []string
		for range 3 {
			run, err := measure(context.Background(), tc.clients, tc.warmup, 100*time.Millisecond, op)
			if err != nil || run.P50Ms <= 0 {
				t.Fatalf("%d client(s), %s warm-up: %+v, %v", tc.clients, tc.warmup, run, err)
			}
			want := float64(tc.clients) * 10 / (run.P50Ms / 1000)
			if math.Abs(run.EventsPerSec-want) <= 0.15*want {
				failures = nil
				break
			}
			failures = append(failures, fmt.Sprintf("%.0f events/s with ops of %.1f ms, expected about %.0f", run.EventsPerSec, run.P50Ms, want))
		}
		if failures != nil {
			t.Errorf("%d client(s) of ops of 60 ms, 10 events each, in a 100 ms window after %s of warm-up, three runs: %s",
				tc.clients, tc.warmup, strings.Join(failures, "; "))
		}
	}
}

// TestTheTextReportsNameTheServerBuild: the build Go recorded in the server
// binary, with its VCS revision where there is one, is in both text
// reports, as in -json (checkServerBuild).
func TestTheTextReportsNameTheServerBuild(t *testing.T) {
	t.Parallel()
	stamped := serverBuild{Binary: "/tmp/api", SHA256: strings.Repeat("ab", 32)}
	stamped.fill(&debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/tributary-dev/tributary/cmd/api",
		Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "c36cb601c3f2c1ce8fd6390f7d749f851433a1c1"},
			{Key: "vcs.time", Value: "2026-12-06T02:45:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}})
	unstamped := serverBuild{Binary: "/tmp/api", SHA256: strings.Repeat("cd", 32)}
	unstamped.fill(&debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/tributary-dev/tributary/cmd/api"})
	for _, tc := range []struct {
		build serverBuild
		want  []string
	}{
		{stamped, []string{"/tmp/api", "cmd/api@(devel)", "go1.26.8", "revision c36cb601c3f2c1ce8fd6390f7d749f851433a1c1 of 2026-12-06T02:45:00Z, with uncommitted changes", "sha256 abababababababab"}},
		{unstamped, []string{"/tmp/api", "go1.26.8", "no VCS revision recorded", "sha256 cdcdcdcdcdcdcdcd"}},
		{readServerBuild("/nonexistent/api"), []string{"/nonexistent/api", "no such file"}},
	} {
		var compare, subscribers bytes.Buffer
		c := compareReport{Config: compareSettings{ServerBuild: tc.build}}
		s := report{ServerBuild: tc.build, Phases: make([]phaseResult, 2)}
		if err := errors.Join(c.writeMarkdown(&compare), s.writeTable(&subscribers)); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(compare.String(), w) || !strings.Contains(subscribers.String(), w) {
				t.Errorf("expected both reports to name the server build with %q; got\n%s\nand\n%s", w, compare.String(), subscribers.String())
			}
		}
	}
}

// TestServiceSideGivesUpOnAServerThatDoesNotAnswer: a server that hangs
// must fail the run, not hold it forever, also outside the measured ops:
// the seeding appends and the scrapes of /metrics.
func TestServiceSideGivesUpOnAServerThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release: // the test's end, for a client that still waits
		}
	}))
	t.Cleanup(func() {
		close(release)
		hung.Close()
	})
	svc := newServiceSide(hung.URL)
	srv := &server{url: hung.URL}
	done := make(chan error, 2)
	go func() { done <- svc.seed(context.Background()) }()
	go func() {
		_, err := srv.metrics(context.Background(), svc.client)
		done <- err
	}()
	deadline := time.After(opTimeout + 10*time.Second)
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Error("expected an error from a server that does not answer, got none")
			}
		case <-deadline:
			t.Fatalf("a request to a server that does not answer still waits after %s; expected it to give up within %s", opTimeout+10*time.Second, opTimeout)
		}
	}
}

// TestServiceReadsDecodeEveryEventAsTheRawReadsDo: the raw reads scan every
// field of every row; the service's counted "position": in the pages'
// bytes, less work for the service side's client and a count that data
// holding that key threw off. Both decode each event into the same value
// now, so a page that does not decode, or whose positions go back, fails
// the read.
func TestServiceReadsDecodeEveryEventAsTheRawReadsDo(t *testing.T) {
	t.Parallel()
	event := func(id string, position int, data string) string {
		return fmt.Sprintf(`{"id":%q,"stream_id":"0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b","stream_type":"order","version":%d,"position":%d,`+
			`"type":"ItemAdded","data":%s,"recorded_at":"2026-12-06T03:00:00.000001Z"}`, id, position, position, data)
	}
	const id1, id2 = "0193a3c4-5b6d-7e8f-9a0b-000000000001", "0193a3c4-5b6d-7e8f-9a0b-000000000002"
	for _, tc := range []struct {
		name, page string
		want       int // events read; -1: an error
	}{
		{"two events", event(id1, 1, eventData) + "," + event(id2, 2, eventData), 2},
		{"data holding a position key", event(id1, 1, `{"position":7}`) + "," + event(id2, 2, eventData), 2},
		{"an id that is no UUID", event("not-a-uuid", 1, eventData), -1},
		{"a time that is no time", strings.Replace(event(id1, 1, eventData), "2026-12-06T03", "yesterday", 1), -1},
		{"positions that go back", event(id1, 2, eventData) + "," + event(id2, 1, eventData), -1},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"events":[`+tc.page+`]}`) //nolint:errcheck // the test reads what arrives
		}))
		svc := newServiceSide(srv.URL)
		n, err := svc.follow(context.Background(), "/events?limit=1000", readEvents)
		if (tc.want < 0) != (err != nil) || tc.want >= 0 && n != tc.want {
			t.Errorf("%s: read %d events, %v; expected %d (-1: an error)", tc.name, n, err, tc.want)
		}
		svc.close()
		srv.Close()
	}
}

// failingSide is a side whose every measurement is op.
type failingSide struct{ op op }

func (f failingSide) appends(int, int) op { return f.op }
func (f failingSide) readStream() op      { return f.op }
func (f failingSide) readLog() op         { return f.op }

// TestAMeasurementThatFailsBecauseTheServerDiedSaysSo: a server that
// crashes mid-measurement fails the service's requests with "EOF" or
// "connection refused"; the run must say that the server exited, how, and
// where its log is, not only the request's error.
func TestAMeasurementThatFailsBecauseTheServerDiedSaysSo(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", "exit 3")
	waitErr := cmd.Run() // the server's process, which is to end with status 3
	srv := &server{cmd: cmd, exited: make(chan struct{}), logPath: "/tmp/load-server-test.log"}
	crash := func(ctx context.Context, _ int) (int, error) {
		srv.waitErr = waitErr
		close(srv.exited) // the process died under the request
		return 0, errors.New(`Post "http://127.0.0.1:1/streams/x/events": EOF`)
	}
	var r compareResult
	for _, m := range measurements() {
		if m.Key == "read_log" {
			r.measurement = m
		}
	}
	cfg := compareConfig{duration: 100 * time.Millisecond}
	_, err := measureSide(context.Background(), cfg, srv, nil, &r, "service", failingSide{crash})
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "exit status 3") ||
		!strings.Contains(err.Error(), srv.logPath) || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("expected an error saying the server exited (exit status 3), naming its log and the request's EOF; got %v", err)
	}
}
