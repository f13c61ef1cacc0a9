package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds the wait for the server's "listening" log line.
	startTimeout = 60 * time.Second
	// stopTimeout is how long the server gets after SIGTERM before it is killed.
	stopTimeout = 15 * time.Second
	// keptLogLines is how many warning and error lines the report quotes.
	keptLogLines = 5
)

// build builds ./cmd/<name> of this module into dir and returns the
// binary's path. The package is named by import path, so any directory
// inside the module works.
func build(ctx context.Context, name, dir string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tributary-dev/tributary/cmd/"+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/%s (run the load tool inside the repository, or pass -api): %w\n%s", name, err, out)
	}
	return bin, nil
}

// start starts the server, built into dir unless api names a binary (see
// startServer), and says where it listens. On error after the process
// started, it returns the server too, for the caller to stop. The process
// is in left from its start.
func start(ctx context.Context, api, dir string, requests bool, progress func(string, ...any), left *leftovers, env ...string) (*server, error) {
	if api == "" {
		progress("building ./cmd/api")
		var err error
		if api, err = build(ctx, "api", dir); err != nil {
			return nil, err
		}
	}
	build := readServerBuild(api)
	progress("server build: %s", build)
	srv, err := startServer(ctx, api, requests, left, env...)
	if srv != nil {
		srv.build = build
	}
	if err == nil {
		progress("server pid %d listening on %s; log in %s", srv.pid(), srv.url, srv.logPath)
	}
	return srv, err
}

// server is the api process under test.
type server struct {
	url     string // http://127.0.0.1:PORT
	logPath string
	build   serverBuild

	cmd     *exec.Cmd
	log     *os.File
	scan    *logScanner
	exited  chan struct{} // closed once the process has exited
	waitErr error         // valid once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startServer starts binary on 127.0.0.1:0 with the store env selects
// (TRIBUTARY_MYSQL_DSN, and TRIBUTARY_DATA_DIR for the embedded store) and
// waits until it listens. With requests false, the access log's lines of
// successful requests are copied to the log but not parsed, which costs
// this process less CPU: appendDurations and subscriptionsEnded then know
// nothing. On error after the process started, it returns the server too,
// for the caller to stop. The process is in left as soon as it has started.
func startServer(ctx context.Context, binary string, requests bool, left *leftovers, env ...string) (*server, error) {
	logFile, err := os.CreateTemp("", "load-server-*.log")
	if err != nil {
		return nil, fmt.Errorf("create the server log: %w", err)
	}
	s := &server{
		logPath: logFile.Name(),
		log:     logFile,
		scan:    &logScanner{out: logFile, addr: make(chan string, 1), skipRequests: !requests},
		exited:  make(chan struct{}),
	}
	s.cmd = exec.Command(binary)
	s.cmd.Env = append(environWithout("TRIBUTARY_"),
		"TRIBUTARY_ADDR=127.0.0.1:0",
		"TRIBUTARY_LOG_LEVEL=info",
	)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout = s.scan
	s.cmd.Stderr = logFile
	// Its own process group: Ctrl-C reaches this tool only, which then
	// stops the server itself and can still drop the database.
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	left.addServer(s)
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	select {
	case addr := <-s.scan.addr:
		s.url = "http://" + addr
		return s, nil
	case <-s.exited:
		return s, fmt.Errorf("server exited before listening (%s); see %s", s.exitStatus(), s.logPath)
	case <-time.After(startTimeout):
		return s, fmt.Errorf("server did not log \"listening\" within %s; see %s", startTimeout, s.logPath)
	case <-ctx.Done():
		return s, ctx.Err()
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// exitStatus describes how the process ended; call it once exited is closed.
func (s *server) exitStatus() string {
	if s.cmd.ProcessState == nil {
		return s.waitErr.Error() // Wait failed before the process ended
	}
	return s.cmd.ProcessState.String()
}

// running reports an error if the server has exited.
func (s *server) running() error {
	select {
	case <-s.exited:
		return fmt.Errorf("the server exited unexpectedly (%s); see %s", s.exitStatus(), s.logPath)
	default:
		return nil
	}
}

// exitGrace is how long a failed request waits to learn whether the server
// has exited: a crash's "EOF" or "connection refused" can come before its
// exit status does.
const exitGrace = time.Second

// explain returns err, said to be the server's exit if the server has
// exited or exits within exitGrace: the request's own error does not tell a
// crash from a network fault, nor name the server's log.
func (s *server) explain(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-s.exited:
		return fmt.Errorf("the server exited unexpectedly (%s); see %s: %w", s.exitStatus(), s.logPath, err)
	case <-t.C:
		return err
	}
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns an error if the server had to be killed or did not
// exit with status 0. Calling it again returns the first outcome.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("the server had exited before it was stopped (%s)", s.exitStatus())
		default:
			s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be exiting already
			select {
			case <-s.exited:
				if s.waitErr != nil {
					s.stopErr = fmt.Errorf("the server's exit after SIGTERM: %w", s.waitErr)
				}
			case <-time.After(stopTimeout):
				s.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
				<-s.exited
				s.stopErr = fmt.Errorf("the server did not exit within %s of SIGTERM and was killed", stopTimeout)
			}
		}
		// Wait has copied all of stdout by now.
		s.log.Close()
	})
	return s.stopErr
}

// logSummary is what the server's log held at warning level or above.
func (s *server) logSummary() logSummary {
	s.scan.mu.Lock()
	defer s.scan.mu.Unlock()
	return s.scan.summary
}

// appendDurations returns how long the server took for the appends it
// finished between from and to, by its access log.
func (s *server) appendDurations(from, to time.Time) []time.Duration {
	s.scan.mu.Lock()
	defer s.scan.mu.Unlock()
	var d []time.Duration
	for _, a := range s.scan.appends {
		if !a.at.Before(from) && !a.at.After(to) {
			d = append(d, a.duration)
		}
	}
	return d
}

// subscriptionsEnded returns how many requests to /events the server has
// logged as finished.
func (s *server) subscriptionsEnded() int {
	s.scan.mu.Lock()
	defer s.scan.mu.Unlock()
	return s.scan.subsDone
}

// logSummary counts the server's warnings and errors and keeps the first few.
type logSummary struct {
	Lines    int      `json:"lines"`
	Warnings int      `json:"warnings"`
	Errors   int      `json:"errors"`
	First    []string `json:"first,omitempty"`
}

// logScanner copies the server's stdout to the log file line by line, reports
// the address of the "listening" line, counts warnings and errors, and keeps
// how long the server took for each append, from its access log.
type logScanner struct {
	out          *os.File
	addr         chan string
	partial      []byte
	skipRequests bool // count INFO "request" lines, parse nothing else of them

	mu       sync.Mutex
	summary  logSummary
	addrSent bool
	appends  []loggedAppend
	subsDone int // subscriptions to /events that the server has ended
}

// loggedAppend is one access-log line of a successful append.
type loggedAppend struct {
	at       time.Time // when the server finished it
	duration time.Duration
}

// Write is called by os/exec from a single goroutine.
func (l *logScanner) Write(p []byte) (int, error) {
	if _, err := l.out.Write(p); err != nil {
		return 0, err
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(l.partial[:i])
		l.partial = append(l.partial[:0], l.partial[i+1:]...)
	}
	return len(p), nil
}

func (l *logScanner) line(b []byte) {
	var rec struct {
		Time       time.Time `json:"time"`
		Level      string    `json:"level"`
		Msg        string    `json:"msg"`
		Addr       string    `json:"addr"`
		Method     string    `json:"method"`
		Path       string    `json:"path"`
		Status     int       `json:"status"`
		DurationMs float64   `json:"duration_ms"`
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.summary.Lines++
	if l.skipRequests && bytes.Contains(b, []byte(`"level":"INFO","msg":"request"`)) {
		return
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		// Not a log record: a panic or a runtime message, worth reading.
		rec.Level = "ERROR"
	}
	switch {
	case rec.Msg == "request" && rec.Method == "POST" && rec.Status == 201:
		l.appends = append(l.appends, loggedAppend{at: rec.Time, duration: time.Duration(rec.DurationMs * float64(time.Millisecond))})
	case rec.Msg == "request" && rec.Method == "GET" && rec.Path == "/events":
		l.subsDone++
	case rec.Msg == "listening" && rec.Addr != "" && !l.addrSent:
		l.addr <- rec.Addr
		l.addrSent = true
	}
	switch rec.Level {
	case "WARN":
		l.summary.Warnings++
	case "ERROR":
		l.summary.Errors++
	default:
		return
	}
	if len(l.summary.First) < keptLogLines {
		l.summary.First = append(l.summary.First, truncate(string(b), 300))
	}
}

// environWithout is this process's environment without variables that
// start with prefix, so the machine's settings do not leak into the server.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		// In any letter case: the server refuses an unknown name under its
		// prefix however it is spelled.
		if len(kv) < len(prefix) || !strings.EqualFold(kv[:len(prefix)], prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
