package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/apibody"
	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

const (
	// startTimeout bounds the wait for the "listening" log line.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a server gets after SIGTERM before it is killed.
	stopTimeout = 10 * time.Second
	// problemBase prefixes every problem type of the API.
	problemBase = "https://tributary.dev/problems/"
)

// server is one running api process.
type server struct {
	URL string // http://127.0.0.1:PORT
	DSN string // the database it serves; empty for the embedded store
	// StoreEnv selects the same store again: start another server with it
	// to restart on the same data.
	StoreEnv []string

	cmd    *exec.Cmd
	out    *processOutput
	exited chan struct{} // closed once the process has exited
	client *http.Client

	stopOnce sync.Once
	exitCode int  // valid once exited is closed
	killed   bool // it had to be killed after stopTimeout
	signaled bool // terminate has sent SIGTERM
	crashed  bool // the test killed it on purpose
}

// forEachServer runs test once for each kind of store (teststore.ForEach),
// against a server started on a fresh store of that kind with env added.
func forEachServer(t *testing.T, test func(t *testing.T, s *server), env ...string) {
	t.Helper()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		test(t, startServer(t, append(slices.Clip(k.ServerEnv), env...)...))
	})
}

// startServer starts the binary on 127.0.0.1:0 and waits until it listens.
// It gets a fresh MySQL database unless env sets TRIBUTARY_MYSQL_DSN; an
// empty TRIBUTARY_MYSQL_DSN runs the embedded store in a fresh directory
// unless env sets TRIBUTARY_DATA_DIR. At cleanup the
// server gets SIGTERM and must exit 0 within stopTimeout.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	s := launchServer(t, env...)
	s.waitListening(t)
	return s
}

// startRestartableServer is startServer on a port from freeport, for a
// test that stops the server and starts another at its address: a port the
// kernel handed out for port 0 can be handed out again meanwhile, to any
// process that listens on port 0 or dials out, and the successor then
// could not listen.
func startRestartableServer(t *testing.T, env ...string) *server {
	t.Helper()
	return startServer(t, append(slices.Clip(env), "TRIBUTARY_ADDR="+freeport.Addr(t))...)
}

// rebindable reports whether port, where a test may start a server again
// after stopping one, is from freeport (see startRestartableServer).
func rebindable(port string) bool {
	p, err := strconv.Atoi(port)
	return err == nil && freeport.Given(p)
}

// kill stops the server with SIGKILL, as a crash would, and waits for it.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.crashed = true // its exit is expected, its status is not checked
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill server: %v", err)
	}
	<-s.exited
}

// launchServer starts the binary without waiting for it to listen, so that
// several processes can start at once; call waitListening before use.
func launchServer(t *testing.T, env ...string) *server {
	t.Helper()
	return launchBinary(t, apiBinary, env...)
}

// launchBinary is launchServer running bin, which runs the api binary in
// some way of its own (a script that sets a limit first, say).
func launchBinary(t *testing.T, bin string, env ...string) *server {
	t.Helper()
	dsn, ok := envValue(env, "TRIBUTARY_MYSQL_DSN")
	switch {
	case !ok:
		dsn = mysqltest.NewDatabase(t)
		env = append([]string{"TRIBUTARY_MYSQL_DSN=" + dsn}, env...)
	case dsn == "":
		// The embedded store: in a directory of the test's own unless given.
		if _, ok := envValue(env, "TRIBUTARY_DATA_DIR"); !ok {
			env = append(env, "TRIBUTARY_DATA_DIR="+t.TempDir())
		}
	}
	storeEnv := []string{"TRIBUTARY_MYSQL_DSN=" + dsn}
	if dir, ok := envValue(env, "TRIBUTARY_DATA_DIR"); ok {
		storeEnv = append(storeEnv, "TRIBUTARY_DATA_DIR="+dir)
	}
	// Later entries win, so the caller's env overrides these defaults.
	cmd := command(context.Background(), bin, append([]string{"TRIBUTARY_ADDR=127.0.0.1:0", "TRIBUTARY_LOG_LEVEL=info"}, env...))
	out := newProcessOutput()
	cmd.Stdout, cmd.Stderr = out.stdoutWriter(), out.stderrWriter()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s := &server{DSN: dsn, StoreEnv: storeEnv, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		s.exitCode = cmd.ProcessState.ExitCode()
		if err != nil && s.exitCode == 0 {
			s.exitCode = -1
		}
		close(s.exited)
	}()
	t.Cleanup(func() {
		if s.crashed {
			return
		}
		exitedEarly := false
		select {
		case <-s.exited:
			exitedEarly = !s.signaled
		default:
		}
		code, killed := s.terminate()
		switch {
		case exitedEarly && s.URL == "":
			// waitListening has reported it, output included.
			return
		case exitedEarly:
			t.Errorf("server exited by itself with status %d while the test was running; expected it to run until SIGTERM", code)
		case killed:
			t.Errorf("server did not exit within %s of SIGTERM and was killed; expected a graceful stop", stopTimeout)
		case code != 0:
			t.Errorf("server exited with status %d after SIGTERM; expected 0", code)
		}
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.output(16<<10))
		}
	})
	return s
}

// waitListening waits for the "listening" log line and sets s.URL.
func (s *server) waitListening(t *testing.T) {
	t.Helper()
	select {
	case addr := <-s.out.addr:
		s.URL = "http://" + addr
	case <-s.exited:
		t.Fatalf("server exited with status %d before listening; expected a \"listening\" log line. Output:\n%s",
			s.exitCode, s.output(16<<10))
	case <-time.After(startTimeout):
		s.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-s.exited
		t.Fatalf("server did not log \"listening\" within %s. Output:\n%s", startTimeout, s.output(16<<10))
	}
	s.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // traffic only to 127.0.0.1
			MaxIdleConns:        200,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// terminate sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns the exit status and whether it had to kill. Calling
// it again returns the first outcome.
func (s *server) terminate() (code int, killed bool) {
	s.stopOnce.Do(func() {
		s.signaled = true
		s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited already
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			s.killed = true
			s.cmd.Process.Kill() //nolint:errcheck
			<-s.exited
		}
	})
	return s.exitCode, s.killed
}

// output returns what the process wrote, at most max bytes of each stream
// (the end of it).
func (s *server) output(max int) string {
	stdout, stderr := s.out.snapshot()
	tail := func(b []byte) []byte {
		if len(b) > max {
			return append([]byte("…"), b[len(b)-max:]...)
		}
		return b
	}
	return fmt.Sprintf("--- stdout ---\n%s\n--- stderr ---\n%s", tail(stdout), tail(stderr))
}

// logLines returns the JSON log lines the process wrote to stdout, decoded.
func (s *server) logLines() []map[string]any {
	stdout, _ := s.out.snapshot()
	var lines []map[string]any
	for _, l := range bytes.Split(stdout, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// command is the binary bin with args, in the test's environment without
// TRIBUTARY_* variables (see inheritedEnv) and with env on top: the one way
// the tests run a binary of the service.
func command(ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	// An empty TRIBUTARY_MYSQL_DSN is the tests' way to ask for the
	// embedded store; the binary refuses the variable set but empty (an
	// empty secret), so it is left unset, as inheritedEnv leaves it.
	cmd.Env = inheritedEnv()
	for _, kv := range env {
		if kv != "TRIBUTARY_MYSQL_DSN=" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// runCommand runs the api binary with args and env until it exits, which it
// must do within 30 s, and returns its exit status and output.
func runCommand(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runBinary(t, apiBinary, env, args...)
}

// runBinary is runCommand for the binary bin.
func runBinary(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := command(ctx, bin, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not exit within 30 s. Stdout:\n%s\nStderr:\n%s", bin, args, out.Bytes(), errOut.Bytes())
	}
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// inheritedEnv is the test's environment without TRIBUTARY_* variables, so
// that settings of the machine running the tests do not leak into a server.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		// In any letter case: the server refuses an unknown name under its
		// prefix however it is spelled.
		if len(kv) < len("TRIBUTARY_") || !strings.EqualFold(kv[:len("TRIBUTARY_")], "TRIBUTARY_") {
			env = append(env, kv)
		}
	}
	return env
}

// envValue finds KEY=value in env (the last one wins, as for exec).
func envValue(env []string, key string) (string, bool) {
	var v string
	var ok bool
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == key {
			v, ok = val, true
		}
	}
	return v, ok
}

// processOutput collects a process's stdout and stderr and reports the
// address from the first "listening" line.
type processOutput struct {
	mu       sync.Mutex
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	partial  []byte // the stdout line not yet ended
	addr     chan string
	addrSent bool
}

func newProcessOutput() *processOutput {
	return &processOutput{addr: make(chan string, 1)}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (o *processOutput) stdoutWriter() io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.stdout.Write(p)
		o.partial = append(o.partial, p...)
		for {
			i := bytes.IndexByte(o.partial, '\n')
			if i < 0 {
				break
			}
			o.scanLine(o.partial[:i])
			o.partial = append(o.partial[:0], o.partial[i+1:]...)
		}
		return len(p), nil
	})
}

func (o *processOutput) stderrWriter() io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.stderr.Write(p)
	})
}

// scanLine looks for {"msg":"listening","addr":"127.0.0.1:PORT"}.
func (o *processOutput) scanLine(line []byte) {
	if o.addrSent {
		return
	}
	var rec struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
		o.addr <- rec.Addr
		o.addrSent = true
	}
}

func (o *processOutput) snapshot() (stdout, stderr []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.stdout.Bytes()), bytes.Clone(o.stderr.Bytes())
}

// response is an HTTP response with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	method string
	path   string
}

// request sends one request. body is sent as is; header holds name/value
// pairs, added in order (so a name may repeat). A POST gets Content-Type:
// application/json unless header names Content-Type; an empty value there
// sends no Content-Type at all.
func (s *server) request(method, path string, body []byte, header ...string) (*response, error) {
	if len(header)%2 != 0 {
		return nil, fmt.Errorf("header pairs: odd count %d", len(header))
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	replaced := false // the default Content-Type, by the first one given
	for i := 0; i < len(header); i += 2 {
		if http.CanonicalHeaderKey(header[i]) == "Content-Type" && !replaced {
			replaced = true
			req.Header.Del("Content-Type")
			if header[i+1] == "" {
				continue
			}
		}
		req.Header.Add(header[i], header[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b, method: method, path: path}, nil
}

// do is request for the test goroutine: a transport error fails the test.
func (s *server) do(t *testing.T, method, path string, body []byte, header ...string) *response {
	t.Helper()
	r, err := s.request(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *server) get(t *testing.T, path string, header ...string) *response {
	t.Helper()
	return s.do(t, http.MethodGet, path, nil, header...)
}

// post sends body: []byte and string as they are, anything else as JSON.
func (s *server) post(t *testing.T, path string, body any, header ...string) *response {
	t.Helper()
	return s.do(t, http.MethodPost, path, jsonBytes(t, body), header...)
}

// mustAppend appends to a stream and requires 201 Created.
func (s *server) mustAppend(t *testing.T, streamID string, body any, header ...string) appendResult {
	t.Helper()
	r := s.post(t, "/streams/"+streamID+"/events", body, header...)
	requireStatus(t, r, http.StatusCreated)
	var res appendResult
	r.decode(t, &res)
	return res
}

func jsonBytes(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case []byte:
		return b
	case string:
		return []byte(b)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("marshal request body: %v", err)
	}
	return b
}

// decode decodes the body into v, refusing fields v does not know, so that a
// response growing or renaming members is noticed.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := r.decodeErr(v); err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
}

func (r *response) decodeErr(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %T from %q: %w", v, r.Body, err)
	}
	if dec.More() {
		return fmt.Errorf("body holds more than one JSON value: %q", r.Body)
	}
	return nil
}

// mediaType is the response's Content-Type without parameters.
func (r *response) mediaType() string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

func requireStatus(t *testing.T, r *response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s %s: expected status %d, got %d with body %s", r.method, r.path, want, r.Status, r.Body)
	}
}

func requireETag(t *testing.T, r *response, version int64) {
	t.Helper()
	if want, got := fmt.Sprintf(`"%d"`, version), r.Header.Get("ETag"); got != want {
		t.Fatalf("%s %s: expected ETag %s, got %q", r.method, r.path, want, got)
	}
}

// problem is an RFC 9457 problem with Tributary's extension members.
type problem struct {
	Type            string          `json:"type"`
	Title           string          `json:"title"`
	Status          int             `json:"status"`
	Detail          string          `json:"detail"`
	Instance        string          `json:"instance"`
	ExpectedVersion json.RawMessage `json:"expected_version"`
	CurrentVersion  *int64          `json:"current_version"`
	EventID         string          `json:"event_id"`
	StreamType      string          `json:"stream_type"`
	Requested       *int64          `json:"requested"`
	Current         *int64          `json:"current"`
}

// checkProblem reports (without stopping) every way r fails to be a
// problem+json answer with status and, unless slug is empty, type
// problemBase+slug.
func checkProblem(t *testing.T, r *response, status int, slug string) problem {
	t.Helper()
	var p problem
	if r.Status >= 500 {
		t.Errorf("%s %s: expected status %d, got server error %d with body %s", r.method, r.path, status, r.Status, r.Body)
		return p
	}
	if r.Status != status {
		t.Errorf("%s %s: expected status %d, got %d with body %s", r.method, r.path, status, r.Status, r.Body)
	}
	if mt := r.mediaType(); mt != "application/problem+json" {
		t.Errorf("%s %s: expected Content-Type application/problem+json, got %q", r.method, r.path, r.Header.Get("Content-Type"))
	}
	if err := r.decodeErr(&p); err != nil {
		t.Errorf("%s %s: %v", r.method, r.path, err)
		return p
	}
	switch {
	case slug != "" && p.Type != problemBase+slug:
		t.Errorf("%s %s: expected problem type %s, got %q (detail %q)", r.method, r.path, problemBase+slug, p.Type, p.Detail)
	case !strings.HasPrefix(p.Type, problemBase):
		t.Errorf("%s %s: expected a problem type under %s, got %q", r.method, r.path, problemBase, p.Type)
	}
	if p.Title == "" {
		t.Errorf("%s %s: expected a non-empty problem title, got none in %s", r.method, r.path, r.Body)
	}
	if p.Status != r.Status {
		t.Errorf("%s %s: expected problem status equal to the HTTP status %d, got %d", r.method, r.path, r.Status, p.Status)
	}
	if p.Detail == "" {
		t.Errorf("%s %s: expected a non-empty problem detail, got none in %s", r.method, r.path, r.Body)
	}
	return p
}

// requireProblem is checkProblem that stops the test on any failure.
func requireProblem(t *testing.T, r *response, status int, slug string) problem {
	t.Helper()
	p := checkProblem(t, r, status, slug)
	if t.Failed() {
		t.FailNow()
	}
	return p
}

// sentBatch is one append of a fixed-size batch and what became of it.
type sentBatch struct {
	streamID string
	ids      []string
	body     []byte
	header   []string  // name/value pairs sent with it, such as If-Match
	status   int       // of the last answer; 0 when none came
	err      error     // the last transport error, if any
	answer   *response // the last answer, if any
	res      appendResult
}

// acked reports whether the batch was acknowledged: 201, or 200 for a retry
// that found it stored.
func (b *sentBatch) acked() bool {
	return b.status == http.StatusCreated || b.status == http.StatusOK
}

// newSentBatch is a batch of n events with fresh client ids for a stream of
// type "fault".
func newSentBatch(t *testing.T, streamID string, n int, payload string) *sentBatch {
	t.Helper()
	b := &sentBatch{streamID: streamID}
	evs := make([]newEvent, n)
	for i := range evs {
		evs[i] = newEvent{ID: newID(), Type: "Happened", Data: map[string]any{"i": i, "p": payload}}
		b.ids = append(b.ids, evs[i].ID)
	}
	b.body = jsonBytes(t, appendBody{StreamType: "fault", Events: evs})
	return b
}

// send posts the batch once and records the answer.
func (b *sentBatch) send(s *server) {
	r, err := s.request(http.MethodPost, "/streams/"+b.streamID+"/events", b.body, b.header...)
	b.status, b.err, b.answer = 0, err, r
	if err != nil {
		return
	}
	b.status = r.Status
	if b.acked() {
		if err := r.decodeErr(&b.res); err != nil {
			b.err, b.status = err, 0
		}
	}
}

// batchWriters is a load for stopping a server under: writers clients each
// append batches to a stream of their own, one at a time, until the server
// stops answering, their rounds are done or the deadline passes.
type batchWriters struct {
	streams []string // one per writer
	acked   atomic.Int64
	// ackedAfter counts the 201s that arrived after stopping: requests
	// that were in flight and still finished.
	ackedAfter atomic.Int64
	stopping   atomic.Bool
	wg         sync.WaitGroup

	mu   sync.Mutex
	sent []*sentBatch
}

// startBatchWriters starts the writers on s. A failed append before stop is
// a test error; after it, it ends its writer.
func startBatchWriters(t *testing.T, s *server, writers, batchSize, rounds int, deadline time.Time, payload string) *batchWriters {
	t.Helper()
	l := &batchWriters{}
	for w := range writers {
		stream := newID()
		l.streams = append(l.streams, stream)
		l.wg.Go(func() {
			for round := 0; round < rounds && time.Now().Before(deadline); round++ {
				b := newSentBatch(t, stream, batchSize, payload)
				l.mu.Lock()
				l.sent = append(l.sent, b)
				l.mu.Unlock()
				b.send(s)
				switch {
				case b.err != nil || b.status == 0:
					if !l.stopping.Load() {
						t.Errorf("writer %d: append failed before the server was stopped: %v", w, b.err)
					}
					return // the server is going away
				case b.status != http.StatusCreated:
					t.Errorf("writer %d: expected 201 (or no answer once the server stops), got %d", w, b.status)
					return
				}
				l.acked.Add(1)
				if l.stopping.Load() {
					l.ackedAfter.Add(1)
				}
			}
		})
	}
	return l
}

// stopUnder waits until n batches are acknowledged (within at most), then
// stops the server with stop while the writers go on, and waits for them.
// It returns how many batches were acknowledged when stop was called.
func (l *batchWriters) stopUnder(n int64, within time.Duration, stop func()) int64 {
	for start := time.Now(); l.acked.Load() < n && time.Since(start) < within; {
		time.Sleep(5 * time.Millisecond)
	}
	l.stopping.Store(true)
	atStop := l.acked.Load()
	stop()
	l.wg.Wait()
	return atStop
}

// checkBatches reads the whole log of s and checks it against every
// batch sent (batches of batchSize events, each stream written by one
// client at a time): each acknowledged batch is there whole at the versions
// and positions of its answer, no batch is there in part, each stream's
// version is a multiple of batchSize, and the log holds nothing else. It
// returns the log.
func checkBatches(t *testing.T, s *server, sent []*sentBatch, batchSize int) []event {
	t.Helper()
	log := s.readLog(t, "/events?limit=1000")
	byID := make(map[string]event, len(log))
	for i, e := range log {
		if i > 0 && e.Position <= log[i-1].Position {
			t.Errorf("log event %d (%s): expected a position above %d, got %d", i, e.ID, log[i-1].Position, e.Position)
		}
		if _, dup := byID[e.ID]; dup {
			t.Errorf("event %s appears twice in the log", e.ID)
		}
		byID[e.ID] = e
	}
	stored := 0
	perStream := map[string]int64{}
	for _, b := range sent {
		present := 0
		for _, id := range b.ids {
			if e, ok := byID[id]; ok {
				present++
				if e.StreamID != b.streamID {
					t.Errorf("event %s: expected it in stream %s, found it in %s", id, b.streamID, e.StreamID)
				}
			}
		}
		switch {
		case b.acked() && present != len(b.ids):
			t.Errorf("batch acknowledged with %d in stream %s: expected all %d events stored, found %d", b.status, b.streamID, len(b.ids), present)
		case present != 0 && present != len(b.ids):
			t.Errorf("batch without an acknowledgement (last answer %d, error %v) in stream %s: expected all %d events or none, found %d",
				b.status, b.err, b.streamID, len(b.ids), present)
		}
		if b.acked() {
			if len(b.res.Events) != len(b.ids) {
				t.Errorf("batch in stream %s: expected %d events in its answer, got %d", b.streamID, len(b.ids), len(b.res.Events))
			}
			for i, ack := range b.res.Events {
				if e := byID[b.ids[i]]; ack.ID != b.ids[i] || e.Version != ack.Version || e.Position != ack.Position {
					t.Errorf("event %s: expected version %d at position %d as acknowledged (ack for %s), found version %d at %d",
						b.ids[i], ack.Version, ack.Position, ack.ID, e.Version, e.Position)
				}
			}
		}
		if present == len(b.ids) {
			first := byID[b.ids[0]].Version
			if (first-1)%int64(batchSize) != 0 {
				t.Errorf("batch in stream %s starts at version %d: expected it on a boundary of %d", b.streamID, first, batchSize)
			}
			for i, id := range b.ids {
				if v := byID[id].Version; v != first+int64(i) {
					t.Errorf("batch in stream %s: expected consecutive versions from %d, event %d is at %d", b.streamID, first, i, v)
				}
			}
		}
		stored += present
		perStream[b.streamID] += int64(present)
	}
	if stored != len(log) {
		t.Errorf("expected the log to hold only the %d events of the batches sent, it holds %d", stored, len(log))
	}
	for id, n := range perStream {
		r := s.get(t, "/streams/"+id)
		if n == 0 {
			if r.Status != http.StatusNotFound {
				t.Errorf("GET /streams/%s: expected 404 for a stream none of whose batches is stored, got %d", id, r.Status)
			}
			continue
		}
		requireStatus(t, r, http.StatusOK)
		var info streamInfo
		r.decode(t, &info)
		if info.Version%int64(batchSize) != 0 || info.Version != n {
			t.Errorf("stream %s: expected version %d (whole batches of %d), got %d", id, n, batchSize, info.Version)
		}
	}
	return log
}

// nextLink returns the target of the Link header's rel="next", if any.
func nextLink(h http.Header) (string, bool) {
	for _, v := range h.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			parts := strings.Split(link, ";")
			target := strings.TrimSpace(parts[0])
			if len(target) < 2 || target[0] != '<' || target[len(target)-1] != '>' {
				continue
			}
			for _, p := range parts[1:] {
				if p = strings.TrimSpace(p); p == `rel="next"` || p == "rel=next" {
					return target[1 : len(target)-1], true
				}
			}
		}
	}
	return "", false
}

// pages GETs path and then every rel="next" link, requiring 200 each time,
// and returns the responses in order. It stops after maxPages.
func (s *server) pages(t *testing.T, path string, maxPages int) []*response {
	t.Helper()
	var out []*response
	for {
		r := s.get(t, path)
		requireStatus(t, r, http.StatusOK)
		out = append(out, r)
		next, ok := nextLink(r.Header)
		if !ok {
			return out
		}
		if len(out) == maxPages {
			t.Fatalf("GET %s: still a next link after %d pages; expected the paging to end", path, maxPages)
		}
		next = strings.TrimPrefix(next, s.URL)
		if !strings.HasPrefix(next, "/") {
			t.Fatalf("GET %s: expected a next link to a path on this server, got %q", r.path, next)
		}
		path = next
	}
}

// readLog reads the whole global log through next links.
func (s *server) readLog(t *testing.T, path string) []event {
	t.Helper()
	var all []event
	for _, r := range s.pages(t, path, 10000) {
		var page logPage
		r.decode(t, &page)
		all = append(all, page.Events...)
	}
	return all
}

// The API's bodies, decoded strictly (see response.decode).
type (
	newEvent      = apibody.NewEvent
	appendBody    = apibody.AppendBody
	appendResult  = apibody.AppendResult
	appendedEvent = apibody.AppendedEvent
	event         = apibody.Event
	streamPage    = apibody.StreamPage
	logPage       = apibody.LogPage
	streamInfo    = apibody.StreamInfo
	streamList    = apibody.StreamList
)

// timestampRE is RFC 3339 in UTC with exactly microseconds, as API.md says.
var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// events is a batch of n events of type typ with fresh client ids.
func events(n int, typ string) []newEvent {
	out := make([]newEvent, n)
	for i := range out {
		out[i] = newEvent{ID: newID(), Type: typ, Data: map[string]int{"i": i}}
	}
	return out
}

// newID is a fresh random UUID in canonical lower-case form.
func newID() string { return uuid.NewString() }
