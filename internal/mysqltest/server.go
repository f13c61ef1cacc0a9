package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// Server is a mariadbd of a test's own, on a data directory and a loopback
// port of its own, that the test may kill and start again: for settings the
// shared server's must not be changed to (a small --max-allowed-packet, a
// binary log, a replica, a Galera node) and for a database that dies. It
// runs with the binary log off and innodb_flush_log_at_trx_commit=1 unless
// its options say otherwise.
type Server struct {
	Dir  string   // holds the data directory ("data"), the socket and the logs
	Port int      // the port it listens on (InitServer's caller sets it)
	Args []string // mariadbd, then its options but --port
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartServer starts a Server with the further mariadbd options extra (as
// NewServer) and returns root's DSN for it without a database
// ("root@tcp(127.0.0.1:PORT)/").
func StartServer(t testing.TB, extra ...string) string {
	t.Helper()
	return NewServer(t, extra...).DSN("")
}

// NewServer initialises a data directory of the test's own, starts mariadbd
// on it, with the further options extra, on a free port, and waits until it
// answers. It is killed at the end of the test. The test is skipped when the
// MariaDB binaries are missing, except under CI=true, where it fails.
func NewServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	// Not t.TempDir: a unix socket's path must stay short.
	dir, err := os.MkdirTemp("", "tributary-mariadbd-")
	if err != nil {
		t.Fatalf("make a directory for mariadbd: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	m := InitServer(t, dir, false, extra...)
	var errs []error
	for range 3 {
		// Another process may take the port in between; then try another.
		m.Port = freeport.Ports(t, 1)[0]
		err := m.TryStart(60 * time.Second)
		if err == nil {
			return m
		}
		errs = append(errs, err)
	}
	t.Fatalf("start mariadbd: %v", errors.Join(errs...))
	return nil
}

// InitServer initialises a data directory in dir (which must exist) and
// returns the mariadbd to run on it with the further options extra, not
// started and without a port, with a cleanup that kills it. When the test
// runs as root, mariadbd runs as root, or as the mysql user with
// asMySQLUser (Galera's rsync state transfer needs that: as root, its rsync
// daemon drops to nobody, who cannot write the data directory). The test is
// skipped when the MariaDB binaries are missing, except under CI=true,
// where it fails.
func InitServer(t testing.TB, dir string, asMySQLUser bool, extra ...string) *Server {
	t.Helper()
	server, install, err := mariadbBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: no private MariaDB server can be started: %v", err)
		}
		t.Skipf("no private MariaDB server can be started: %v", err)
	}
	m := &Server{Dir: dir}
	t.Cleanup(m.Kill)
	var user []string
	if os.Geteuid() == 0 {
		user = []string{"--user=root"} // mariadbd refuses to run as root otherwise
		if asMySQLUser {
			user = []string{"--user=mysql"}
			if out, err := exec.Command("chown", "-R", "mysql", dir).CombinedOutput(); err != nil {
				t.Fatalf("chown -R mysql %s: %v\n%s", dir, err, out)
			}
		}
	}
	small := []string{"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	installCmd := exec.CommandContext(ctx, install, append(append([]string{"--no-defaults",
		// Its bootstrap deletes every #sql* file in its tmpdir, as mariadbd
		// does at every start: not the shared server's (in /tmp).
		"--datadir=" + filepath.Join(dir, "data"), "--tmpdir=" + dir, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}, user...), small...)...)
	if out, err := installCmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	m.Args = append(append([]string{server, "--no-defaults",
		"--datadir=" + filepath.Join(dir, "data"),
		"--socket=" + filepath.Join(dir, "sock"),
		"--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + filepath.Join(dir, "error.log"),
		"--tmpdir=" + dir,
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--skip-grant-tables",
		"--innodb-flush-log-at-trx-commit=1",
		"--skip-log-bin",
		"--max-connections=500",
	}, user...), small...)
	m.Args = append(m.Args, extra...)
	return m
}

// Start starts mariadbd again on the same data directory and port, as
// after a crash, and waits until it answers (crash recovery included).
//
// A try that fails at once (the port not yet free, a Galera node that finds
// no primary component yet) is tried again; if none succeeds within 90 s,
// the test fails with every try's reason and the error log's errors, since
// the last try's own log (all the failure would otherwise show) says little
// of the earlier.
func (m *Server) Start(t testing.TB) {
	t.Helper()
	began := time.Now()
	var err error
	var tries []string
	for deadline := began.Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = m.TryStart(max(time.Until(deadline), 20*time.Second)); err == nil {
			return
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		tries = append(tries, fmt.Sprintf("try %d, at %s: %s", len(tries)+1, time.Since(began).Round(time.Millisecond), first))
	}
	t.Fatalf("restart mariadbd on port %d: %d tries failed:\n%s\nerrors in its log:\n%s\nthe last try: %v",
		m.Port, len(tries), strings.Join(tries, "\n"), m.logErrors(), err)
}

// logErrors is the error log's lines that report an error or a failure,
// at most the last 60 of them.
func (m *Server) logErrors() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "error.log"))
	var lines []string
	for line := range strings.Lines(string(b)) {
		l := strings.ToLower(line)
		if strings.Contains(l, "[error]") || strings.Contains(l, "fail") || strings.Contains(l, "abort") {
			lines = append(lines, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(lines[max(len(lines)-60, 0):], "\n")
}

// TryStart starts mariadbd once on m.Port and waits up to wait until it
// answers as itself. It returns an error, with the end of the error log,
// when mariadbd exits first, does not answer in time (it is then killed),
// or another server answers on the port.
func (m *Server) TryStart(wait time.Duration) error {
	cmd := exec.Command(m.Args[0], append(m.Args[1:], "--port="+strconv.Itoa(m.Port))...)
	// A group of its own, so that Kill takes its children too (Galera's
	// state transfer scripts and their rsync).
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	m.cmd, m.done = cmd, make(chan struct{})
	done := m.done
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose, or reported through done
		close(done)
	}()
	db, err := sql.Open("mysql", m.DSN("")+"?timeout=1s")
	if err != nil {
		m.Kill()
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return m.checkIdentity(db)
		}
		select {
		case <-done:
			return fmt.Errorf("mariadbd exited before answering: %v\n%s", cmd.ProcessState, m.ErrorLog())
		default:
		}
		if time.Now().After(deadline) {
			m.Kill()
			return fmt.Errorf("mariadbd did not answer within %s: %v\n%s", wait, err, m.ErrorLog())
		}
	}
}

// checkIdentity makes sure that what answers on the port is this mariadbd,
// not another server that took the port in between; if not, it kills this one.
func (m *Server) checkIdentity(db *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var datadir string
	err := db.QueryRowContext(ctx, "SELECT @@datadir").Scan(&datadir)
	want, _ := filepath.EvalSymlinks(filepath.Join(m.Dir, "data"))
	got, _ := filepath.EvalSymlinks(filepath.Clean(datadir))
	if err != nil || got != want {
		m.Kill()
		return fmt.Errorf("port %d answered, but not as the mariadbd on %s (datadir %q, error %v)", m.Port, want, datadir, err)
	}
	return nil
}

// Kill stops mariadbd with SIGKILL, as a crash would, and waits for it. It
// does nothing when mariadbd is not running.
func (m *Server) Kill() {
	if m.cmd == nil {
		return
	}
	killGroup(m.cmd)
	<-m.done
	m.cmd = nil
}

// ErrorLog is the end of mariadbd's error log.
func (m *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "error.log"))
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// DSN is root's DSN for database db ("": none) on the server.
func (m *Server) DSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.Port, db)
}

// Exec runs statements as root; the test fails at the first that fails.
func (m *Server) Exec(t testing.TB, statements ...string) {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		t.Fatalf("open %s: %v", m.DSN(""), err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// PurgeBinaryLogs starts a new binary log and purges every older one, as an
// operator freeing disk does: a replica that has not read them yet cannot
// any more (its IO thread stops on 1236). A log still needed for crash
// recovery is kept until its binlog checkpoint, a moment after the flush,
// so the purge is tried until only the new log is left (20 s at most).
func (m *Server) PurgeBinaryLogs(t testing.TB) {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		t.Fatalf("open %s: %v", m.DSN(""), err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "FLUSH BINARY LOGS"); err != nil {
		t.Fatalf("FLUSH BINARY LOGS: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := db.ExecContext(t.Context(), "PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY"); err != nil {
			t.Fatalf("PURGE BINARY LOGS: %v", err)
		}
		rows, err := db.QueryContext(t.Context(), "SHOW BINARY LOGS")
		if err != nil {
			t.Fatalf("SHOW BINARY LOGS: %v", err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd kept %d binary logs after PURGE for 20 s, want 1\n%s", n, m.ErrorLog())
		}
	}
}

// CreateDatabase makes a database on the server and returns its DSN.
func (m *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	m.Exec(t, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	return m.DSN(name)
}

// mariadbBinaries finds mariadbd and mariadb-install-db.
func mariadbBinaries() (server, install string, err error) {
	find := func(name string, fallbacks ...string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, p := range fallbacks {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found in PATH or %v", name, fallbacks)
	}
	if server, err = find("mariadbd", "/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd", "/usr/local/bin/mariadbd"); err != nil {
		return "", "", err
	}
	if install, err = find("mariadb-install-db", "/usr/bin/mariadb-install-db", "/usr/local/bin/mariadb-install-db"); err != nil {
		return "", "", err
	}
	return server, install, nil
}
