package tests

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// hostPort is the host:port of a server URL such as http://127.0.0.1:PORT.
func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

// logLine returns the first log line whose msg is msg, or fails the test.
func (s *server) logLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	for _, l := range s.logLines() {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("expected a %q log line, got none; output:\n%s", msg, s.output(8192))
	return nil
}

func TestHelpListsTheCommandsAndVersionPrintsDevWhenUnstamped(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCommand(t, nil, "help")
	if code != 0 {
		t.Fatalf("api help: expected exit status 0, got %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"serve", "migrate", "healthcheck", "version", "TRIBUTARY_ADDR", "TRIBUTARY_DEBUG_ADDR", "TRIBUTARY_SHUTDOWN_DELAY"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("api help: expected the output to mention %s, got:\n%s", want, stdout)
		}
	}
	// TestMain builds without -ldflags; the Dockerfile's build stamps a
	// version (TestDockerfileBuildIsStaticStampedAndChecksHealth).
	code, stdout, stderr = runCommand(t, nil, "version")
	if code != 0 || stdout != "dev\n" {
		t.Errorf("api version of an unstamped build: expected exit 0 and \"dev\\n\", got %d and %q; stderr:\n%s", code, stdout, stderr)
	}
}

// TestHealthcheckExitsZeroOnlyWhileTheServerIsReady: `api healthcheck`, a
// container's HEALTHCHECK, follows /readyz: 0 while the server at
// TRIBUTARY_ADDR and its database answer, 1 while the database is cut off,
// 0 again once it is back, and 1 when nothing listens.
func TestHealthcheckExitsZeroOnlyWhileTheServerIsReady(t *testing.T) {
	t.Parallel()
	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	healthcheck := func(addr string) (int, string) {
		t.Helper()
		start := time.Now()
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_ADDR=" + addr}, "healthcheck")
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("api healthcheck took %s; expected its short timeout to end it sooner", took)
		}
		return code, stdout + stderr
	}

	if code, out := healthcheck(hostPort(s.URL)); code != 0 {
		t.Fatalf("api healthcheck against a ready server: expected exit status 0, got %d: %s", code, out)
	}
	p.Cut()
	if code, out := healthcheck(hostPort(s.URL)); code != 1 || !strings.Contains(out, "/readyz") || !strings.Contains(out, "503") {
		t.Errorf("api healthcheck while the database is cut off: expected exit status 1 naming /readyz and 503, got %d: %s", code, out)
	}
	p.Restore(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out := healthcheck(hostPort(s.URL))
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("api healthcheck after the database came back: expected exit status 0 within 10 s, got %d: %s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out := healthcheck(freeport.Addr(t)); code != 1 {
		t.Errorf("api healthcheck with no server listening: expected exit status 1, got %d: %s", code, out)
	}
}

func TestDebugListenerServesProfilesOnlyOnItsOwnAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DEBUG_ADDR=127.0.0.1:0")
	debugAddr, _ := s.logLine(t, "debug listening")["addr"].(string)
	listening := s.logLine(t, "listening")
	for key, want := range map[string]string{"addr": hostPort(s.URL), "store": "sqlite", "version": "dev", "debug": debugAddr} {
		if got, _ := listening[key].(string); got != want || want == "" {
			t.Errorf("the \"listening\" log line: expected %s %q, got %q in %v", key, want, got, listening)
		}
	}
	if on, ok := listening["access_control"].(bool); !ok || on {
		t.Errorf("the \"listening\" log line: expected access_control false, got %v", listening["access_control"])
	}
	if m, _ := listening["metrics"].(string); m != "/metrics" {
		t.Errorf("the \"listening\" log line: expected metrics \"/metrics\", got %v", listening["metrics"])
	}
	if _, ok := s.logLine(t, "starting")["version"]; !ok {
		t.Errorf("the \"starting\" log line does not say the version; output:\n%s", s.output(4096))
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("GET %s: read body: %v", url, err)
		}
		return res.StatusCode, string(b)
	}
	debugURL := "http://" + debugAddr
	if code, body := get(debugURL + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ on the debug listener: expected 200 with the profile index, got %d: %.200s", code, body)
	}
	if code, body := get(debugURL + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine on the debug listener: expected 200 with a goroutine profile, got %d: %.200s", code, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine", "/debug/pprof/cmdline"} {
		if code, _ := get(s.URL + path); code != http.StatusNotFound {
			t.Errorf("GET %s on the public address: expected 404, got %d", path, code)
		}
	}
	if code, _ := get(debugURL + "/streams"); code != http.StatusNotFound {
		t.Errorf("GET /streams on the debug listener: expected 404 (it serves no API), got %d", code)
	}

	// Without TRIBUTARY_DEBUG_ADDR there is no debug listener, and the
	// start-up log says so.
	off := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	if got := off.logLine(t, "listening")["debug"]; got != "off" {
		t.Errorf("the \"listening\" log line without TRIBUTARY_DEBUG_ADDR: expected debug \"off\", got %v", got)
	}
}

func TestDebugListenerOnThePublicAddressIsRefused(t *testing.T) {
	t.Parallel()
	addr := freeport.Addr(t)
	code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR=" + t.TempDir(),
		"TRIBUTARY_ADDR=" + addr, "TRIBUTARY_DEBUG_ADDR=" + addr}, "serve")
	if code != 1 || !strings.Contains(stderr, "TRIBUTARY_DEBUG_ADDR") || strings.Contains(stdout, `"msg":"listening"`) {
		t.Errorf("api with TRIBUTARY_DEBUG_ADDR equal to TRIBUTARY_ADDR: expected exit status 1 before listening, naming TRIBUTARY_DEBUG_ADDR; got %d.\nStdout:\n%s\nStderr:\n%s", code, stdout, stderr)
	}
}

// TestAMisspeltSettingStopsTheStartUp: TRIBUTARY_MYSQL_DNS, a typo of
// TRIBUTARY_MYSQL_DSN, was ignored and the binary ran on the embedded store;
// it must exit 1 naming the variable and the setting it looks meant for,
// without quoting the value (a DSN's password).
func TestAMisspeltSettingStopsTheStartUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_DATA_DIR=" + dir,
		"TRIBUTARY_MYSQL_DNS=tributary:s3cret-pw@tcp(127.0.0.1:3306)/tributary"}, "migrate")
	if code != 1 || !strings.Contains(stderr, "TRIBUTARY_MYSQL_DNS") || !strings.Contains(stderr, "TRIBUTARY_MYSQL_DSN") {
		t.Errorf("api migrate with TRIBUTARY_MYSQL_DNS set: expected exit status 1 naming it and TRIBUTARY_MYSQL_DSN; got %d.\nStdout:\n%s\nStderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret-pw") {
		t.Errorf("api migrate with TRIBUTARY_MYSQL_DNS set: its output quotes the DSN's password.\nStdout:\n%s\nStderr:\n%s", stdout, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("api migrate with TRIBUTARY_MYSQL_DNS set: expected nothing created in TRIBUTARY_DATA_DIR, found %d entries", len(entries))
	}
}

// TestArgumentsAfterTheCommandAreRefused: `api serve :9090` or `api migrate
// --dry-run` ignored what followed the command and went on, serving on
// TRIBUTARY_ADDR or migrating for real. Settings are environment variables;
// anything after the command must stop the binary before it does anything.
func TestArgumentsAfterTheCommandAreRefused(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"migrate", "--dry-run"}, {"serve", ":9090"}, {"healthcheck", "127.0.0.1:8080"}, {"version", "-v"}} {
		dir := t.TempDir()
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_DATA_DIR=" + dir, "TRIBUTARY_ADDR=127.0.0.1:0"}, args...)
		entries, _ := os.ReadDir(dir)
		if code != 1 || len(entries) != 0 || !strings.Contains(stderr, "api help") {
			t.Errorf("api %v: expected exit status 1 pointing to api help, with nothing created; got %d and %d entries.\nStdout:\n%s\nStderr:\n%s",
				args, code, len(entries), stdout, stderr)
		}
	}
}

// TestAnUnknownCommandIsNotQuoted: the first argument that is no command
// was quoted in the error, "unknown command \"tributary:s3cret@tcp(…)/…\"",
// so a DSN or a token given as an argument (instead of in its variable)
// reached stderr and the container's log.
func TestAnUnknownCommandIsNotQuoted(t *testing.T) {
	t.Parallel()
	const secret = "tributary:s3cret-pw@tcp(db:3306)/tributary"
	code, stdout, stderr := runCommand(t, nil, secret)
	if code != 1 || !strings.Contains(stderr, "api help") || strings.Contains(stdout+stderr, "s3cret-pw") {
		t.Errorf("api %s: expected exit status 1 pointing to api help, without the argument; got %d.\nStdout:\n%s\nStderr:\n%s", secret, code, stdout, stderr)
	}
}

// TestARefusedSettingWithAClosedPipeAsStdoutSaysWhyOnStderr: a refused
// setting is logged as one ERROR line on stdout before the reason on
// stderr; with stdout a pipe whose reader had gone (`( exec api ) | true`,
// a log collector down), that line's write killed the process by SIGPIPE
// before SIGPIPE was ignored: status 141 and nothing on stderr. SIGPIPE is
// ignored before that line: the reason is on stderr, the status 1.
func TestARefusedSettingWithAClosedPipeAsStdoutSaysWhyOnStderr(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "migrate", "verify"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader has gone before the first write
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		c := command(ctx, apiBinary, []string{"TRIBUTARY_LOG_LEVEL=loud", "TRIBUTARY_DATA_DIR=" + t.TempDir()}, cmd)
		var stderr bytes.Buffer
		c.Stdout, c.Stderr = w, &stderr
		err = c.Run()
		cancel()
		w.Close()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "TRIBUTARY_LOG_LEVEL") {
			t.Errorf("api %s with a refused setting and a closed pipe as stdout: %v, stderr %q; want exit status 1 and the reason on stderr",
				cmd, err, stderr.String())
		}
	}
}

// TestHelpIntoAClosedPipeEndsQuietly: `api help | head -1` is how a shell
// user reads the settings; once the server ignored SIGPIPE (so that a log
// reader going away cannot kill it), help and version, whose reader may
// stop early, ended with "api: write …: broken pipe" and status 1. Only the
// commands that log ignore it.
func TestHelpIntoAClosedPipeEndsQuietly(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"help", "version"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader has gone before the first write
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		c := command(ctx, apiBinary, nil, cmd)
		var stderr bytes.Buffer
		c.Stdout, c.Stderr = w, &stderr
		c.Run() //nolint:errcheck // killed by SIGPIPE, as a shell's command is
		cancel()
		w.Close()
		if stderr.Len() > 0 {
			t.Errorf("api %s into a closed pipe: expected no error output, got %q", cmd, stderr.Bytes())
		}
	}
}
