package tests

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/execfile"

	_ "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestMigrateCreatesTheSchemaAndExitsZero(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	env := []string{"TRIBUTARY_MYSQL_DSN=" + dsn}
	for run := 1; run <= 2; run++ { // the second run finds nothing to do
		code, stdout, stderr := runCommand(t, env, "migrate")
		if code != 0 {
			t.Fatalf("api migrate (run %d): expected exit status 0, got %d. Stdout:\n%s\nStderr:\n%s", run, code, stdout, stderr)
		}
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	rows, err := db.QueryContext(t.Context(), "SHOW TABLES")
	if err != nil {
		t.Fatalf("SHOW TABLES: %v", err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan table name: %v", err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("SHOW TABLES: %v", err)
	}
	for _, want := range []string{"streams", "events", "log_head"} {
		if !slices.Contains(tables, want) {
			t.Errorf("expected table %s after api migrate, got tables %v", want, tables)
		}
	}

	// A server on the migrated database works at once.
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
}

// TestWithoutMySQLTheEmbeddedStoreServesAndSurvivesKill9: with no
// TRIBUTARY_MYSQL_DSN the binary runs on the embedded store in
// TRIBUTARY_DATA_DIR; after a kill -9 under load every acknowledged batch is
// there whole, and no batch is there in part.
func TestWithoutMySQLTheEmbeddedStoreServesAndSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_DATA_DIR=" + dir}, "migrate")
	if code != 0 {
		t.Fatalf("api migrate on the embedded store exited %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "tributary.db")); err != nil {
		t.Fatalf("api migrate left no database file in TRIBUTARY_DATA_DIR: %v", err)
	}
	env := []string{"TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR=" + dir}
	s := startServer(t, env...)
	ready := false
	for _, l := range s.logLines() {
		if l["msg"] == "store ready" && l["store"] == "sqlite" && l["path"] == filepath.Join(dir, "tributary.db") {
			ready = true
		}
	}
	if !ready {
		t.Errorf("start-up did not log the embedded store and its file; output:\n%s", s.output(4096))
	}

	const batch = 5
	type ack struct {
		stream  string
		version int64
		ids     []string
	}
	var mu sync.Mutex
	var acks []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			stream := newID()
			for {
				select {
				case <-stop:
					return
				default:
				}
				evs := events(batch, "Happened")
				r, err := s.request(http.MethodPost, "/streams/"+stream+"/events", jsonBytes(t, appendBody{StreamType: "thing", Events: evs}))
				if err != nil || r.Status != http.StatusCreated {
					return // the server is gone
				}
				var res appendResult
				if err := r.decodeErr(&res); err != nil {
					return
				}
				ids := make([]string, batch)
				for i, e := range evs {
					ids[i] = e.ID
				}
				mu.Lock()
				acks = append(acks, ack{stream, res.Version, ids})
				mu.Unlock()
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.kill(t)
	close(stop)
	wg.Wait()
	if len(acks) == 0 {
		t.Fatal("no append was acknowledged before the kill")
	}

	s2 := startServer(t, env...)
	for _, a := range acks {
		var page streamPage
		r := s2.get(t, "/streams/"+a.stream+"/events?limit=1000")
		requireStatus(t, r, http.StatusOK)
		r.decode(t, &page)
		if page.Version%batch != 0 {
			t.Fatalf("stream %s is at version %d after the kill: a batch of %d is there in part", a.stream, page.Version, batch)
		}
		if page.Version < a.version {
			t.Fatalf("stream %s is at version %d after the kill, but version %d was acknowledged", a.stream, page.Version, a.version)
		}
		for i, id := range a.ids {
			if e := page.Events[a.version-batch+int64(i)]; e.ID != id {
				t.Fatalf("acknowledged event %s of stream %s is not at its version after the kill (found %s)", id, a.stream, e.ID)
			}
		}
	}
}

func TestHealthReadinessAndOpenAPIAreServed(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		for _, path := range []string{"/healthz", "/readyz"} {
			r := s.get(t, path)
			requireStatus(t, r, http.StatusOK)
			if mt := r.mediaType(); mt != "application/json" {
				t.Errorf("GET %s: expected Content-Type application/json, got %q", path, r.Header.Get("Content-Type"))
			}
			var body struct {
				Status string `json:"status"`
			}
			r.decode(t, &body)
			if body.Status != "ok" {
				t.Errorf(`GET %s: expected {"status":"ok"}, got %s`, path, r.Body)
			}
		}
		r := s.get(t, "/openapi.yaml")
		requireStatus(t, r, http.StatusOK)
		if mt := r.mediaType(); mt != "application/yaml" {
			t.Errorf("GET /openapi.yaml: expected Content-Type application/yaml, got %q", r.Header.Get("Content-Type"))
		}
		if !bytes.HasPrefix(r.Body, []byte("openapi:")) {
			t.Errorf("GET /openapi.yaml: expected a body starting with \"openapi:\", got %q", r.Body[:min(len(r.Body), 40)])
		}
		if !bytes.Equal(r.Body, api.OpenAPI) {
			t.Errorf("GET /openapi.yaml: expected the embedded api/openapi.yaml (%d bytes), got %d bytes", len(api.OpenAPI), len(r.Body))
		}
	})
}

func TestSIGTERMFinishesInFlightAppendsAndExitsZero(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		const (
			writers   = 20
			batchSize = 20
		)
		load := startBatchWriters(t, s, writers, batchSize, 200, time.Now().Add(20*time.Second), strings.Repeat("p", 1024))
		// Let the load build up, then stop the server under it.
		var code int
		var killed bool
		ackedAtSignal := load.stopUnder(60, 5*time.Second, func() { code, killed = s.terminate() })
		if killed {
			t.Fatalf("expected the server to exit within %s of SIGTERM, it had to be killed", stopTimeout)
		}
		if code != 0 {
			t.Fatalf("expected exit status 0 after SIGTERM, got %d", code)
		}
		if !slices.ContainsFunc(s.logLines(), func(l map[string]any) bool { return l["msg"] == "stopped" }) {
			t.Errorf(`expected a "stopped" log line after SIGTERM, found none`)
		}
		t.Logf("%d batches acknowledged before SIGTERM, %d after it, %d sent", ackedAtSignal, load.ackedAfter.Load(), len(load.sent))
		if load.ackedAfter.Load() == 0 {
			t.Errorf("expected the appends in flight at SIGTERM (%d writers were busy) to finish with 201, none did", writers)
		}

		// What was acknowledged is there, whole; nothing is there in part.
		checkBatches(t, startServer(t, s.StoreEnv...), load.sent, batchSize)
	}, "TRIBUTARY_SHUTDOWN_TIMEOUT=8s")
}

func TestTwoProcessesOnOneDatabaseAgreeOnVersionsAndPositions(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	// Both start at once: the migrations must also cope with that.
	servers := []*server{
		launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn),
		launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn),
	}
	for _, s := range servers {
		s.waitListening(t)
	}

	const (
		streams   = 3
		rounds    = 8
		writers   = 10
		batchSize = 2
	)
	var mu sync.Mutex
	acked := map[string]appendedEvent{} // event id → where its 201 put it
	var wg sync.WaitGroup
	for range streams {
		id := newID()
		wg.Go(func() {
			for round := range rounds {
				expected := int64(round * batchSize)
				results := make([]*response, writers)
				errs := make([]error, writers)
				batches := make([][]newEvent, writers)
				var rw sync.WaitGroup
				for w := range writers {
					batches[w] = events(batchSize, fmt.Sprintf("Round%dWriter%d", round, w))
					body := jsonBytes(t, appendBody{StreamType: "shared", Events: batches[w]})
					rw.Go(func() {
						results[w], errs[w] = servers[w%2].request(http.MethodPost, "/streams/"+id+"/events", body,
							"If-Match", fmt.Sprintf(`"%d"`, expected))
					})
				}
				rw.Wait()
				winners := 0
				for w, r := range results {
					if errs[w] != nil {
						t.Errorf("stream %s round %d writer %d: %v", id, round, w, errs[w])
						continue
					}
					switch r.Status {
					case http.StatusCreated:
						winners++
						var res appendResult
						if err := r.decodeErr(&res); err != nil {
							t.Errorf("stream %s round %d writer %d: %v", id, round, w, err)
							continue
						}
						mu.Lock()
						for _, e := range res.Events {
							acked[e.ID] = e
						}
						mu.Unlock()
					case http.StatusConflict:
						checkProblem(t, r, http.StatusConflict, "wrong-expected-version")
					default:
						t.Errorf("stream %s round %d writer %d: expected 201 or 409, got %d with body %s", id, round, w, r.Status, r.Body)
					}
				}
				if winners != 1 {
					t.Errorf("stream %s expected version %d: expected exactly one winner among %d writers on two servers, got %d",
						id, expected, writers, winners)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if want := streams * rounds * batchSize; len(acked) != want {
		t.Fatalf("expected %d acknowledged events, got %d", want, len(acked))
	}

	var logs [][]event
	for i, s := range servers {
		log := s.readLog(t, "/events?limit=7")
		logs = append(logs, log)
		if len(log) != len(acked) {
			t.Errorf("server %d: expected GET /events to list the %d acknowledged events, got %d", i, len(acked), len(log))
		}
		seen := map[string]bool{}
		lastVersion := map[string]int64{}
		for j, e := range log {
			ack, ok := acked[e.ID]
			switch {
			case !ok:
				t.Errorf("server %d: event %s in the log was never acknowledged", i, e.ID)
			case seen[e.ID]:
				t.Errorf("server %d: event %s appears twice in the log", i, e.ID)
			case e.Version != ack.Version || e.Position != ack.Position:
				t.Errorf("server %d: event %s: expected version %d at position %d as acknowledged, got %d at %d",
					i, e.ID, ack.Version, ack.Position, e.Version, e.Position)
			}
			seen[e.ID] = true
			if j > 0 && e.Position <= log[j-1].Position {
				t.Errorf("server %d: log event %d: expected a position above %d, got %d", i, j, log[j-1].Position, e.Position)
			}
			if e.Version != lastVersion[e.StreamID]+1 {
				t.Errorf("server %d: stream %s: expected version %d next in the log, got %d", i, e.StreamID, lastVersion[e.StreamID]+1, e.Version)
			}
			lastVersion[e.StreamID] = e.Version
		}
	}
	if len(logs) == 2 && !slices.EqualFunc(logs[0], logs[1], sameEvent) {
		t.Errorf("expected both servers to list the same log")
	}
}

// TestTokensFromAFileGuardEveryEndpointButTheProbes starts the binary with
// TRIBUTARY_API_TOKENS_FILE, as a secret mount would provide it.
func TestTokensFromAFileGuardEveryEndpointButTheProbes(t *testing.T) {
	t.Parallel()
	const writeSecret, readSecret = "file-write-0123456789", "file-read-0123456789"
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("# tokens for the test\napp:write:"+writeSecret+"\ndashboard:read:"+readSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS_FILE="+file)
	body := jsonBytes(t, appendBody{StreamType: "order", Events: events(1, "Placed")})
	stream := "/streams/" + newID() + "/events"
	requireProblem(t, s.get(t, "/events"), http.StatusUnauthorized, "unauthorized")
	requireProblem(t, s.do(t, http.MethodPost, stream, body, "Authorization", "Bearer "+readSecret), http.StatusForbidden, "forbidden")
	requireStatus(t, s.do(t, http.MethodPost, stream, body, "Authorization", "Bearer "+writeSecret), http.StatusCreated)
	requireStatus(t, s.get(t, stream+"?access_token="+readSecret), http.StatusOK)
	requireStatus(t, s.get(t, "/healthz"), http.StatusOK)
	requireStatus(t, s.get(t, "/readyz"), http.StatusOK)
	out := s.output(1 << 20)
	if strings.Contains(out, writeSecret) || strings.Contains(out, readSecret) {
		t.Fatalf("the server's output contains a token:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"access control is on","tokens":2`) {
		t.Errorf("start-up did not say access control is on with 2 tokens; output:\n%s", s.output(4096))
	}

	// Without tokens the service is open, and says so.
	open := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	requireStatus(t, open.get(t, "/events"), http.StatusOK)
	if !strings.Contains(open.output(1<<20), "access control is off") {
		t.Errorf("start-up without tokens did not say the service is open; output:\n%s", open.output(4096))
	}
}

// TestAReadOnlyEmbeddedDatabaseIsRefusedAtStartUp: SQLite opens a database
// file the process may not write read-only, without a word, and the binary
// served: /readyz said ok and every append was a 503 "the database cannot
// be reached". It must exit 1 at start-up saying the file is read-only.
// As root, which may write any file, it runs the binary as nobody.
func TestAReadOnlyEmbeddedDatabaseIsRefusedAtStartUp(t *testing.T) {
	t.Parallel()
	// The directory stays writable (the lock file, -wal and -shm may be
	// made); only the database file is read-only.
	refusedAtStartUp(t, "a read-only database file", bothCommands, func(top, dir string) map[string]os.FileMode {
		return map[string]os.FileMode{top: 0o755, dir: 0o777, filepath.Join(dir, "tributary.db"): 0o444, filepath.Join(dir, "tributary.lock"): 0o666}
	}, func(string) string { return "read-only" })
}

// TestAReadOnlyDataDirectoryIsRefusedSayingSo: with the database file
// writable but its directory not, SQLite cannot make the -wal and -shm
// files, and the binary exited with "database unavailable: attempt to write
// a readonly database (1544)": a passing outage, about a file that is
// writable. It must say that the directory is read-only. As root, which may
// write anywhere, it runs the binary as nobody.
func TestAReadOnlyDataDirectoryIsRefusedSayingSo(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as nobody")
	}
	refusedAtStartUp(t, "a read-only data directory", bothCommands, func(top, dir string) map[string]os.FileMode {
		return map[string]os.FileMode{top: 0o755, dir: 0o755, filepath.Join(dir, "tributary.db"): 0o666, filepath.Join(dir, "tributary.lock"): 0o666}
	}, func(dir string) string { return "directory " + dir + " is read-only" })
	// And says what mends it for the user it runs as (the image's 65532):
	// a host directory bind-mounted on /data is root's.
	refusedAtStartUp(t, "a read-only data directory", bothCommands, func(top, dir string) map[string]os.FileMode {
		return map[string]os.FileMode{top: 0o755, dir: 0o755, filepath.Join(dir, "tributary.db"): 0o666, filepath.Join(dir, "tributary.lock"): 0o666}
	}, func(dir string) string { return "chown -R 65534:65534 " + dir })
	refusedAtStartUp(t, "an empty data directory it may not write", []string{"serve"}, func(top, dir string) map[string]os.FileMode {
		for _, name := range []string{"tributary.db", "tributary.lock"} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		return map[string]os.FileMode{top: 0o755, dir: 0o755}
	}, func(dir string) string { return "chown -R 65534:65534 " + dir })
}

// TestALockFileTheProcessMayNotWriteIsRefusedNamingItAndTheUser: with
// tributary.lock left by another user (a start as root, then one as the
// image's user), the start failed with "open lock file: open …: permission
// denied", where the README's other permission errors name what to fix and
// the user the process runs as. (A black-box operator test found it.)
func TestALockFileTheProcessMayNotWriteIsRefusedNamingItAndTheUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as nobody")
	}
	refusedAtStartUp(t, "a lock file it may not write", bothCommands, func(top, dir string) map[string]os.FileMode {
		return map[string]os.FileMode{top: 0o755, dir: 0o777, filepath.Join(dir, "tributary.db"): 0o666, filepath.Join(dir, "tributary.lock"): 0o644}
	}, func(dir string) string {
		return filepath.Join(dir, "tributary.lock") + " is not writable by this process (uid 65534)"
	})
}

// TestStoreFilesTheProcessMayNotOpenAreRefusedNamingThemAndTheUser: a
// database file, -wal or -shm left by another user (a copy or a restore
// done as root) gave "read the database file's header: permission denied",
// "keep its WAL …: permission denied" and, for the -shm, "database
// unavailable: unable to open database file (14)", which named no file and
// read as an outage. Each must name the file and the user, as the lock
// file's refusal does. (A black-box operator test found them.)
func TestStoreFilesTheProcessMayNotOpenAreRefusedNamingThemAndTheUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as nobody")
	}
	for _, c := range []struct{ file, want string }{
		{"tributary.db", "is not readable by this process (uid 65534)"},
		{"tributary.db-wal", "is not readable and writable by this process (uid 65534)"},
		{"tributary.db-shm", "is not readable and writable by this process (uid 65534)"},
	} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			refusedAtStartUp(t, c.file+" of root's, mode 0600", []string{"migrate", "serve", "verify"}, func(top, dir string) map[string]os.FileMode {
				file := filepath.Join(dir, c.file)
				// Left by root, as the -wal and -shm a copy brings are (a
				// clean stop leaves neither).
				if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
					if err := os.WriteFile(file, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				modes := map[string]os.FileMode{top: 0o755, dir: 0o777, filepath.Join(dir, "tributary.db"): 0o666, filepath.Join(dir, "tributary.lock"): 0o666}
				modes[file] = 0o600
				return modes
			}, func(dir string) string { return filepath.Join(dir, c.file) + " " + c.want })
		})
	}
}

// TestATokensFileTheProcessMayNotReadIsRefusedNamingTheUser: a tokens file
// mounted readable by root only was refused with "open the file: permission
// denied" (the name is left out, as a token may be set in its place), which
// does not say who could not read it.
func TestATokensFileTheProcessMayNotReadIsRefusedNamingTheUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as nobody")
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("ops:write:3f9c0a7b1d2e4f60a1b2c3d4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(tokens), 0o755); err != nil {
		t.Fatal(err)
	}
	refusedAtStartUp(t, "a tokens file it may not read", []string{"serve"}, func(top, dir string) map[string]os.FileMode {
		return map[string]os.FileMode{top: 0o755, dir: 0o777, filepath.Join(dir, "tributary.db"): 0o666, filepath.Join(dir, "tributary.lock"): 0o666}
	}, func(string) string { return "open the file: permission denied (this process runs as uid 65534" }, "TRIBUTARY_API_TOKENS_FILE="+tokens)
}

// bothCommands are the commands that open the store.
var bothCommands = []string{"migrate", "serve"}

// refusedAtStartUp migrates an embedded store into a new data directory,
// gives its files the modes that modes(top, dir) names, and runs each of
// cmds on it, with env added, from a copy of the binary (the build's
// directory is private), as nobody when the test runs as root (which may
// write any file): each must exit 1 at once, its error output holding
// want(dir).
func refusedAtStartUp(t *testing.T, what string, cmds []string, modes func(top, dir string) map[string]os.FileMode, want func(dir string) string, env ...string) {
	t.Helper()
	top, err := os.MkdirTemp("", "tributary-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	dir := filepath.Join(top, "data")
	if code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_DATA_DIR=" + dir}, "migrate"); code != 0 {
		t.Fatalf("api migrate exited %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	bin := filepath.Join(top, "api")
	b, err := os.ReadFile(apiBinary)
	if err != nil {
		t.Fatal(err)
	}
	if err := execfile.Write(bin, b); err != nil {
		t.Fatal(err)
	}
	for path, mode := range modes(top, dir) {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range cmds {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		c := command(ctx, bin, append([]string{"TRIBUTARY_DATA_DIR=" + dir, "TRIBUTARY_ADDR=127.0.0.1:0"}, env...), cmd)
		if os.Geteuid() == 0 {
			asNobody(c)
		}
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		c.Run() //nolint:errcheck // the exit status is checked below
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut || c.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), want(dir)) {
			t.Errorf("api %s with %s: expected exit status 1 at once, its error holding %q; got %d (timed out: %t).\nStdout:\n%s\nStderr:\n%s",
				cmd, what, want(dir), c.ProcessState.ExitCode(), timedOut, stdout.Bytes(), stderr.Bytes())
		}
	}
}

// TestAMisorderedTokenEntryIsRefusedWithoutQuotingIt: an entry written
// name:token:role, or token:name:role, was refused with its second field
// (or its first) quoted, "role must be read or write, got \"<the token>\"",
// so the token reached the start-up error and the container's log.
func TestAMisorderedTokenEntryIsRefusedWithoutQuotingIt(t *testing.T) {
	t.Parallel()
	const secret = "3f9c0a7b1d2e4f60a1b2"
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("# name:role:token\n"+secret+":dashboard:read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{
		{"TRIBUTARY_API_TOKENS=orders-service:" + secret + ":write"},
		{"TRIBUTARY_API_TOKENS_FILE=" + file},
	} {
		code, stdout, stderr := runCommand(t, append(env, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0"), "serve")
		if code != 1 || !strings.Contains(stderr, "name:role:token") {
			t.Errorf("api with %v: expected exit status 1 saying entries are name:role:token; got %d.\nStdout:\n%s\nStderr:\n%s", env, code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("api with %v: its output quotes the token.\nStdout:\n%s\nStderr:\n%s", env, stdout, stderr)
		}
	}
}

// TestSIGTERMWhileWaitingForTheDatabaseStopsCleanly: a server stopped
// (docker stop) while it waits at start-up for a database that does not
// answer yet exited 1 saying "database not reachable within 1m0s
// (TRIBUTARY_STARTUP_TIMEOUT)", a timeout that had not passed. It must
// exit 0 at once and say it stopped, as it does once it listens; `api
// migrate` stopped so still fails, saying a signal stopped it.
func TestSIGTERMWhileWaitingForTheDatabaseStopsCleanly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd      string
		wantCode int
	}{{"serve", 0}, {"migrate", 1}} {
		dsn := "tributary:pw@tcp(" + freeport.Addr(t) + ")/tributary" // nothing listens there
		cmd := command(t.Context(), apiBinary, []string{"TRIBUTARY_MYSQL_DSN=" + dsn, "TRIBUTARY_STARTUP_TIMEOUT=60s",
			"TRIBUTARY_ADDR=127.0.0.1:0"}, tc.cmd)
		out := newProcessOutput()
		cmd.Stdout, cmd.Stderr = out.stdoutWriter(), out.stderrWriter()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // the status is read below
		deadline := time.Now().Add(10 * time.Second)
		for stdout, _ := out.snapshot(); !bytes.Contains(stdout, []byte("database not reachable yet")); stdout, _ = out.snapshot() {
			if time.Now().After(deadline) {
				cmd.Process.Kill() //nolint:errcheck
				<-exited
				t.Fatalf("api %s: no \"database not reachable yet\" line within 10 s", tc.cmd)
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-exited
		}
		stdout, stderr := out.snapshot()
		if code := cmd.ProcessState.ExitCode(); code != tc.wantCode || time.Since(start) > 5*time.Second ||
			bytes.Contains(stderr, []byte("not reachable within")) || !bytes.Contains(append(stdout, stderr...), []byte("stopped")) {
			t.Errorf("api %s stopped by SIGTERM while waiting for the database: expected exit status %d within 5 s, a \"stopped\" line and no timeout blamed; got %d after %s.\nStdout:\n%s\nStderr:\n%s",
				tc.cmd, tc.wantCode, code, time.Since(start).Round(time.Millisecond), stdout, stderr)
		}
	}
}

// TestBadTokensAreRefusedBeforeTheStoreIsTouched: access tokens were read
// only once the store was open and migrated, so a typo in them was found
// after the schema had moved on (an upgrade past a migration that drops
// columns, which stops the earlier instances still running), or after
// TRIBUTARY_STARTUP_TIMEOUT spent waiting for a database. On both stores
// the binary must exit 1 at once with the database untouched.
func TestBadTokensAreRefusedBeforeTheStoreIsTouched(t *testing.T) {
	t.Parallel()
	bad := "TRIBUTARY_API_TOKENS=orders-service:writer:3f9c0a7b1d2e4f60a1b2"
	dir := t.TempDir()
	code, stdout, stderr := runCommand(t, []string{bad, "TRIBUTARY_DATA_DIR=" + dir, "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
	if entries, _ := os.ReadDir(dir); code != 1 || len(entries) != 0 {
		t.Errorf("api on the embedded store with a bad token entry: expected exit status 1 and an untouched data directory; got %d and %d entries in it.\nStdout:\n%s\nStderr:\n%s",
			code, len(entries), stdout, stderr)
	}

	dsn := mysqltest.NewDatabase(t)
	code, stdout, stderr = runCommand(t, []string{bad, "TRIBUTARY_MYSQL_DSN=" + dsn, "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if code != 1 || tables != 0 {
		t.Errorf("api on MySQL with a bad token entry: expected exit status 1 and no table created; got %d and %d tables.\nStdout:\n%s\nStderr:\n%s",
			code, tables, stdout, stderr)
	}
	// And at once, not after the start-up timeout, when the database is
	// not there.
	start := time.Now()
	code, _, stderr = runCommand(t, []string{bad, "TRIBUTARY_MYSQL_DSN=tributary:pw@tcp(" + freeport.Addr(t) + ")/tributary",
		"TRIBUTARY_STARTUP_TIMEOUT=20s", "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
	if took := time.Since(start); code != 1 || took > 5*time.Second {
		t.Errorf("api with a bad token entry and no database: expected exit status 1 at once; got %d after %s.\nStderr:\n%s", code, took.Round(time.Millisecond), stderr)
	}
}

// TestATokensFileWithNoEntryStopsTheStartUp: TRIBUTARY_API_TOKENS_FILE
// naming an empty file (a secret not filled in yet, a mount of the wrong
// key), or one of comments only, started the server with access control
// off, open to anyone, after one warning line. Asked for tokens from a
// file, it must refuse to start without any.
func TestATokensFileWithNoEntryStopsTheStartUp(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{"empty": "", "comments": "# name:role:token\n\n"} {
		file := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_API_TOKENS_FILE=" + file, "TRIBUTARY_DATA_DIR=" + t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
		if code != 1 || !strings.Contains(stderr, "TRIBUTARY_API_TOKENS_FILE") {
			t.Errorf("api with TRIBUTARY_API_TOKENS_FILE naming a file with no entry (%s): expected exit status 1 naming the variable; got %d.\nStdout:\n%s\nStderr:\n%s",
				name, code, stdout, stderr)
		}
	}
}

// TestATokensFileTooLargeStopsTheStartUp: TRIBUTARY_API_TOKENS_FILE was
// read whole, however large: a mount of the wrong file, or /dev/zero, took
// the process's memory before it listened. More than 1 MiB of tokens is
// refused at once, naming the variable.
func TestATokensFileTooLargeStopsTheStartUp(t *testing.T) {
	t.Parallel()
	big := filepath.Join(t.TempDir(), "tokens")
	content := "app:write:" + strings.Repeat("x", 40) + "\n" + strings.Repeat("# padding\n", 200_000)
	if err := os.WriteFile(big, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{big, "/dev/zero"} {
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_API_TOKENS_FILE=" + file, "TRIBUTARY_DATA_DIR=" + t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
		if code != 1 || !strings.Contains(stderr, "TRIBUTARY_API_TOKENS_FILE") || !strings.Contains(stderr, "1 MiB") {
			t.Errorf("api with TRIBUTARY_API_TOKENS_FILE=%s (more than 1 MiB): expected exit status 1 naming the variable and the limit; got %d.\nStdout:\n%.2000s\nStderr:\n%.2000s",
				file, code, stdout, stderr)
		}
	}
}

// TestTheServerOutlivesWhatReadsItsLog: the log goes to stdout, and a
// process that writes to a pipe whose reader has gone (a log collector
// restarted, a `| tee` stopped) is killed by SIGPIPE, at once, with no
// drain: every request in flight and every subscription was cut. The
// server must keep serving, its log lines lost until something reads
// them again.
func TestTheServerOutlivesWhatReadsItsLog(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c := command(ctx, apiBinary, []string{"TRIBUTARY_DATA_DIR=" + t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
	var stderr bytes.Buffer
	c.Stdout, c.Stderr = w, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	// Read the log up to the listening line, then stop reading it.
	addr := ""
	sc := bufio.NewScanner(r)
	for addr == "" && sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
		}
	}
	r.Close()
	if addr == "" {
		t.Fatalf("no listening line; stderr:\n%s", stderr.Bytes())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 { // each request logs a line, into the closed pipe
		resp, err := client.Get("http://" + addr + "/streams/" + uuid.NewString())
		if err != nil {
			select {
			case exit := <-exited:
				t.Fatalf("request %d: %v; the server exited (%v) once its log's reader was gone", i+1, err, exit)
			case <-time.After(time.Second):
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("request %d: status %d, want 404", i+1, resp.StatusCode)
		}
	}
	c.Process.Signal(syscall.SIGTERM) //nolint:errcheck // checked by the wait
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v; want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		c.Process.Kill() //nolint:errcheck
		t.Error("the server did not stop within 30 s of SIGTERM")
	}
}
