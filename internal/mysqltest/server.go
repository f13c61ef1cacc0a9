package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// StartServer starts a mariadbd of the test's own, on a data directory and
// a loopback port of its own, with the further options extra (a small
// --max-allowed-packet, --log-bin with --binlog-format=STATEMENT: settings
// the shared server's must not be changed to), and returns root's DSN for
// it without a database ("root@tcp(127.0.0.1:PORT)/"). It runs with the
// binary log off and innodb_flush_log_at_trx_commit=1 unless extra says
// otherwise, and is killed at the end of the test. The test is skipped when
// the MariaDB binaries are missing, except under CI=true, where it fails.
func StartServer(t testing.TB, extra ...string) string {
	t.Helper()
	server, install, err := mariadbBinaries()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: no private MariaDB server can be started: %v", err)
		}
		t.Skipf("no private MariaDB server can be started: %v", err)
	}
	// Not t.TempDir: a unix socket's path must stay short.
	dir, err := os.MkdirTemp("", "tributary-mariadbd-")
	if err != nil {
		t.Fatalf("make a directory for mariadbd: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var user []string
	if os.Geteuid() == 0 {
		user = []string{"--user=root"} // mariadbd refuses to run as root otherwise
	}
	small := []string{"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, user...), small...)
	if out, err := exec.CommandContext(ctx, install, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	args = append(append([]string{"--no-defaults",
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
	}, user...), small...)
	args = append(args, extra...)
	var errs []error
	for range 3 {
		// Another process may take the port in between; then try another.
		port := freeport.Ports(t, 1)[0]
		dsn := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
		if err := startServer(t, server, append(args, "--port="+strconv.Itoa(port)), dsn, filepath.Join(dir, "data")); err != nil {
			errs = append(errs, err)
			continue
		}
		return dsn
	}
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("start mariadbd: %v\nits error log:\n%s", errs, b[max(len(b)-4096, 0):])
	return ""
}

// startServer starts server with args, kills it at the end of the test, and
// waits until what answers at dsn is it (its data directory is datadir).
func startServer(t testing.TB, server string, args []string, dsn, datadir string) error {
	cmd := exec.Command(server, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose, or reported through done
		close(done)
	}()
	kill := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may have exited already
		<-done
	}
	db, err := sql.Open("mysql", dsn+"?timeout=1s")
	if err != nil {
		kill()
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var got string
		err = db.QueryRowContext(ctx, "SELECT @@datadir").Scan(&got)
		cancel()
		if err == nil {
			want, _ := filepath.EvalSymlinks(datadir)
			if g, _ := filepath.EvalSymlinks(filepath.Clean(got)); g != want {
				kill()
				return fmt.Errorf("%s answered, but not as the mariadbd on %s (its datadir is %s)", dsn, want, got)
			}
			t.Cleanup(kill)
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("mariadbd exited before answering: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			kill()
			return fmt.Errorf("mariadbd did not answer within a minute: %w", err)
		}
	}
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
