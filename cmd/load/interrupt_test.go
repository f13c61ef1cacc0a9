package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// fakeAPIEnv set in the environment makes the test binary a server for the
// load tool's -api (fakeAPI), its value saying how it behaves.
const fakeAPIEnv = "LOAD_TEST_FAKE_API"

// fakeAPI logs that it listens, as the real server does, and then answers
// no request: a hung server. Mode "stall" exits on SIGTERM; "stuck" ignores
// it as well as SIGINT and SIGHUP, as a server wedged in its shutdown does.
func fakeAPI(mode string) {
	if mode == "stuck" {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf(`{"time":%q,"level":"INFO","msg":"listening","addr":%q}`+"\n", time.Now().Format(time.RFC3339Nano), l.Addr().String())
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { //nolint:errcheck // it serves until killed
		select {} // until the process ends
	}))
}

// interruptedRun is the load tool running "compare" on MySQL/MariaDB
// against the fake server in mode, stopped where it seeds the service's
// stream, which the fake server never answers.
type interruptedRun struct {
	cmd       *exec.Cmd
	stderr    *testlog.Buffer
	exited    chan struct{}
	dbs       []string // the databases it created
	serverPid int
	dsn       string
}

// startInterruptedRun starts the run, with SIGHUP ignored as nohup starts
// a command if nohup is true, and waits until it seeds; t's cleanup kills
// the server and drops the databases the tool left, if any.
func startInterruptedRun(t *testing.T, mode string, nohup bool) *interruptedRun {
	t.Helper()
	load, _ := binaries(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &interruptedRun{stderr: &testlog.Buffer{}, exited: make(chan struct{}), dsn: serverDSN(t)}
	r.cmd = exec.Command(load, "compare", "-api", self, "-dsn", r.dsn, "-rounds", "1", "-duration", "1s")
	if nohup {
		// An ignored signal stays ignored across exec.
		r.cmd = exec.Command("sh", append([]string{"-c", `trap '' HUP; exec "$0" "$@"`}, r.cmd.Args...)...)
	}
	r.cmd.Env = append(os.Environ(), fakeAPIEnv+"="+mode)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait() //nolint:errcheck // the tests look at when it exits, and what it left
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill() //nolint:errcheck // it has usually exited
		<-r.exited
		if r.serverPid > 0 && alive(r.serverPid) {
			if p, err := os.FindProcess(r.serverPid); err == nil {
				p.Kill() //nolint:errcheck // the fake server this test started
			}
		}
		db := r.open(t)
		for _, name := range r.dbs {
			db.Exec("DROP DATABASE IF EXISTS " + name) //nolint:errcheck // best effort, after the test
		}
	})
	seeding := regexp.MustCompile(`created databases (load_[0-9a-f]+) \(the service's\) and (load_[0-9a-f]+) \(raw\)(?s:.*)server pid (\d+) listening(?s:.*)writing the`)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := seeding.FindStringSubmatch(r.stderr.String()); m != nil {
			r.dbs = []string{m[1], m[2]}
			r.serverPid, _ = strconv.Atoi(m[3])
			return r
		}
		select {
		case <-r.exited:
			t.Fatalf("load exited before it seeded the stream; stderr:\n%s", r.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("load did not start seeding within a minute; stderr:\n%s", r.stderr.String())
		}
	}
}

func (r *interruptedRun) open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// signal sends sig to the load tool.
func (r *interruptedRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitExit fails t unless the tool exits within d.
func (r *interruptedRun) waitExit(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(d):
		t.Fatalf("%s: load still runs after %s; expected it to exit. stderr:\n%s", what, d, r.stderr.String())
	}
}

// checkNothingLeft fails t if the databases or the server are still there.
func (r *interruptedRun) checkNothingLeft(t *testing.T) {
	t.Helper()
	db := r.open(t)
	for _, name := range r.dbs {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s is left behind; expected it dropped. stderr:\n%s", name, r.stderr.String())
		}
	}
	// The kernel may take a moment to take a killed process away.
	for deadline := time.Now().Add(2 * time.Second); alive(r.serverPid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the server (pid %d) still runs; expected it stopped", r.serverPid)
			break
		}
	}
}

// alive reports whether process pid runs: it exists and is no zombie
// (one whose parent exited, which a container's init may never reap).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestASecondInterruptExitsAtOnceAndDropsTheDatabases: a run whose
// clean-up is stuck (here a server that ignores SIGTERM, which the tool
// waits 15 s for before it kills it) ended with a second Ctrl-C; the second
// was ignored like the first. It now kills the server, drops the databases
// within 5 s and exits.
func TestASecondInterruptExitsAtOnceAndDropsTheDatabases(t *testing.T) {
	t.Parallel()
	r := startInterruptedRun(t, "stuck", false)
	r.signal(t, syscall.SIGINT)
	time.Sleep(time.Second) // the tool is waiting for the server to stop
	select {
	case <-r.exited:
		t.Fatalf("load exited on the first interrupt; expected it to wait for the stuck server. stderr:\n%s", r.stderr.String())
	default:
	}
	r.signal(t, syscall.SIGINT)
	r.waitExit(t, 8*time.Second, "a second SIGINT")
	r.checkNothingLeft(t)
}

// TestSIGHUPStopsTheRunAndDropsTheDatabasesAsSIGINTDoes: a closed terminal
// or SSH session sends SIGHUP, whose default killed the tool at once, the
// server left running and the databases behind. It now stops the run as
// Ctrl-C does.
func TestSIGHUPStopsTheRunAndDropsTheDatabasesAsSIGINTDoes(t *testing.T) {
	t.Parallel()
	r := startInterruptedRun(t, "stall", false)
	r.signal(t, syscall.SIGHUP)
	r.waitExit(t, 20*time.Second, "SIGHUP")
	r.checkNothingLeft(t)
	if !strings.Contains(r.stderr.String(), "interrupted; the server was stopped and the database dropped") {
		t.Errorf("expected the tool to say it was interrupted and cleaned up; stderr:\n%s", r.stderr.String())
	}
}

// TestSIGHUPLeavesARunUnderNohupRunning: a run started with SIGHUP ignored
// (nohup, to outlive its terminal) must go on when the terminal closes;
// listening for SIGHUP would make it heard again. Ctrl-C still stops it.
func TestSIGHUPLeavesARunUnderNohupRunning(t *testing.T) {
	t.Parallel()
	r := startInterruptedRun(t, "stall", true)
	r.signal(t, syscall.SIGHUP)
	select {
	case <-r.exited:
		t.Fatalf("a run under nohup exited on SIGHUP; expected it to go on. stderr:\n%s", r.stderr.String())
	case <-time.After(2 * time.Second):
	}
	r.signal(t, syscall.SIGINT)
	r.waitExit(t, 20*time.Second, "SIGINT after SIGHUP under nohup")
	r.checkNothingLeft(t)
}
