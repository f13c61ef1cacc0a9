// Command api runs the Tributary event store service.
//
//	api              serve the HTTP API (the default; also: api serve)
//	api migrate      bring the database schema up to date and exit
//	api verify       check every page and event of the embedded store (stopped)
//	api healthcheck  exit 0 if the server at TRIBUTARY_ADDR is ready, 1 if not
//	api version      print the version this binary was built from
//	api help         list the commands and the configuration variables
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// version is the release this binary was built from, stamped in at build
// time with -ldflags "-X main.version=v1.2.3" (the Dockerfile does). It is a
// package variable because that is all the linker can set; read it through
// buildVersion.
var version string

// buildVersion is the stamped version, else the module version go install
// recorded, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `usage: api [command]

Commands:
  serve        serve the HTTP API (the default)
  migrate      bring the database schema up to date and exit
  verify       check every page and every event's checksum of the embedded store,
               which must not be served meanwhile; exit 1 naming damaged events
  healthcheck  exit 0 if the server at TRIBUTARY_ADDR answers /readyz with 200, else 1
  version      print the version this binary was built from
  help         print this help

Configuration (environment variables):`

func main() {
	ctx, cut, release := signals()
	defer release()
	if err := run(ctx, cut, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// signals returns the contexts that SIGTERM, SIGINT and SIGHUP end: stop at the
// first (start-up stops, a server drains), cut at the second (a drain is
// cut short: an operator who presses Ctrl-C again, or an orchestrator that
// signals twice, means now). Past the second they have their default action
// again: a third ends the process. release stops listening for them.
func signals() (stop, cut context.Context, release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// SIGHUP (a closed terminal; an operator hoping for a reload, which
	// there is none of) would kill the process undrained. Unless it is
	// ignored, as nohup starts a process: Notify would undo that.
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	stop, stopCancel := context.WithCancelCause(context.Background())
	cut, cutCancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() {
		for i, cancel := range []context.CancelCauseFunc{stopCancel, cutCancel} {
			select {
			case sig := <-sigs:
				if i == 1 {
					// The cut is the last this goroutine hears: give the
					// signals back to their default action, before the cut
					// is seen, so a third ends the process at once (a cut
					// stop that hangs needs no kill -9).
					signal.Stop(sigs)
				}
				cancel(stopSignal{sig}) // for the stop's lines (signalAttr)
			case <-done:
				return
			}
		}
	}()
	return stop, cut, func() {
		signal.Stop(sigs)
		close(done)
		stopCancel(nil)
		cutCancel(nil)
	}
}

// stopSignal is the cause signals gives its contexts: the signal received.
// It is a cancel still (Unwrap): what returns a context's cause (the
// tokens FIFO's wait) must stay context.Canceled for its callers.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return "received " + signalName(s.sig) }
func (s stopSignal) Unwrap() error { return context.Canceled }

// signalName returns sig's conventional name (SIGTERM, SIGINT, SIGHUP),
// which operators and orchestrators use, rather than Go's ("terminated").
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// signalAttr is the attribute naming the signal that ended ctx, for the
// stop's lines, so that an operator can tell an orchestrator's SIGTERM from
// a closed terminal's SIGHUP; none (an attribute the log leaves out) if no
// signal did.
func signalAttr(ctx context.Context) slog.Attr {
	var s stopSignal
	if errors.As(context.Cause(ctx), &s) {
		return slog.String("signal", signalName(s.sig))
	}
	return slog.Attr{}
}

// run parses the configuration once, builds the parts and runs the command
// until ctx ends; cut ends when a drain must stop at once. The environment
// is read through kelseyhightower/envconfig, which reads the process
// environment itself.
func run(ctx, cut context.Context, args []string, stdout io.Writer) (err error) {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	// Settings are environment variables: `api serve :9090` would serve on
	// TRIBUTARY_ADDR, `api migrate --dry-run` migrate for real.
	if len(args) > 1 && cmd != "help" && cmd != "-h" && cmd != "--help" {
		// Not quoted: one may be a DSN or a token given the wrong way.
		return fmt.Errorf("%s takes no arguments, got %d; settings are TRIBUTARY_* environment variables: try api help", cmd, len(args)-1)
	}
	switch cmd {
	case "verify":
		return verify(ctx, stdout)
	case "serve", "migrate", "healthcheck":
	case "version", "-version", "--version":
		_, err := fmt.Fprintln(stdout, buildVersion())
		return err
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return config.Usage(stdout)
	default:
		if !commandLike(cmd) {
			// Not quoted: it may be a DSN or a token given the wrong way.
			return errors.New("unknown command (not shown: it is no command's name); try: api help")
		}
		return fmt.Errorf("unknown command %q; try: api help", cmd)
	}
	if cmd != "healthcheck" {
		// A log reader that goes away (a collector restarted, a | tee
		// stopped) must not kill the server, or a migration, with SIGPIPE
		// at its next log line, cutting every request and subscription
		// with no drain: writes to the broken pipe fail instead, and those
		// lines are lost. Before the first line, a refused setting's, or
		// that line killed the process before its reason reached stderr.
		// (help and version, whose reader may stop early, end quietly by
		// SIGPIPE.)
		signal.Ignore(syscall.SIGPIPE)
	}
	if cmd == "healthcheck" {
		// TRIBUTARY_ADDR alone: the rest's load (a DSN file gone, or a
		// FIFO awaited) failed, or held, the probe of a ready server.
		// Its output is its own.
		return healthcheck(ctx, config.Addr(), stdout)
	}
	cfg, err := config.LoadContext(ctx, awaitingLine(stdout))
	if err != nil {
		// No level is known yet; an error passes every one.
		log := newLogger(stdout, slog.LevelInfo)
		if ctx.Err() != nil && cmd == "serve" { // SIGTERM while a DSN file FIFO was awaited
			log.Info("stopped", "before", "listening", signalAttr(ctx), "error", err)
			return nil
		}
		logFailure(log, cmd, err)
		return err
	}
	// Every line, whoever writes it, without the DSNs' passwords: a
	// refusal met while serving may quote them (redactDSNPasswords).
	log := redactDSNPasswords(newLogger(stdout, cfg.LogLevel), cfg.MySQLDSN, cfg.MySQLReadDSN)
	log.Info("starting", "command", cmd, "version", buildVersion())
	defer func() {
		if err != nil {
			// main writes it to stderr too, past the log's redaction.
			err = withoutDSNPasswords(err, cfg.MySQLDSN, cfg.MySQLReadDSN)
			logFailure(log, cmd, err)
		}
	}()
	if links := cfg.DockerLinks(); len(links) > 0 {
		log.Info("ignoring variables a Docker link set (they are no settings)", "variables", links)
	}
	for _, w := range cfg.Warnings() { // settings given that are not in force as given
		log.Warn(w)
	}

	// Tokens are read before the store is touched, so that a mistake in
	// them stops the start-up before a migration or a wait for the database.
	var tokens []esthttp.Token
	var tokensRead time.Time // when the tokens file was read (tributary_tokens_last_reload_timestamp_seconds)
	if cmd == "serve" {
		// A FIFO the tokens are awaited from is said, as a DSN file's is:
		// a start silent until the timeout looks hung.
		awaiting := func() {
			log.Info("waiting for a tokens file that is no regular file (a FIFO?) to be written and closed",
				"setting", config.Var("APITokensFile"), "timeout", cfg.StartupTimeout)
		}
		if tokens, err = loadTokens(ctx, cfg, awaiting); err != nil {
			if ctx.Err() != nil { // SIGTERM while a FIFO was awaited
				log.Info("stopped", "before", "listening", signalAttr(ctx), "error", err)
				return nil
			}
			return err
		}
		if cfg.APITokensFile != "" {
			tokensRead = time.Now()
		}
	}
	m := metrics.New(buildVersion())
	if !tokensRead.IsZero() {
		m.TokensRead(tokensRead)
	}
	// The stores' lines quote what clients chose (stream ids, drivers'
	// errors holding statements' arguments): a token sent in its place is
	// redacted there as in the HTTP layer's and the live feed's lines.
	// So do the driver's own (a packet error, a dead idle session
	// dropped): it is told once the tokens are known, before any
	// connection is made.
	// With the set in force, not the start's: a token the tokens file
	// adds while serving (watchTokensFile) is redacted there too.
	storeLog, access := log, esthttp.NewAccess(tokens)
	if access != nil {
		storeLog = sqlstore.RedactingLogger(log, access.Redact)
	}
	mysqlstore.SetDriverLogger(storeLog)
	store, err := openStoreUnlessCut(ctx, cut, cfg, storeLog, m, cmd == "migrate")
	if errors.Is(err, errCutAtStart) {
		// The first signal's stop waits on the database (a cut
		// migration's statement ended on the server, up to 5 s, and the
		// migration lock released, 2 s more): a second one means now.
		log.Warn("a second signal during start-up: stopping at once, without waiting for the database; " +
			"a migration cut by the first may go on on the server, and the next start completes what it finished")
		if cmd == "serve" {
			return errors.New("stopped at once by a second signal before listening")
		}
		return errors.New("stopped at once by a second signal before the schema was up to date")
	}
	if err != nil && ctx.Err() != nil {
		// SIGTERM or SIGINT while the store opened: a database still
		// starting, a migration lock another instance holds. A server asked
		// to stop stops, as it would once listening; a migration did not
		// finish.
		if cmd == "serve" {
			log.Info("stopped", "before", "listening", signalAttr(ctx), "error", err)
			return nil
		}
		return fmt.Errorf("stopped by a signal before the schema was up to date: %w", err)
	}
	if err != nil {
		return err
	}
	if cmd == "migrate" {
		return closeMigrated(cut, cfg, store, log)
	}
	// A read replica's lag is reported by /readyz.
	var replica esthttp.Replica
	if ms, ok := store.(*mysqlstore.Store); ok && ms.ReadAddr() != "" {
		replica = ms
	}
	return serveOn(ctx, cut, cfg, serveHooks{access: access}, tokens, store, replica, log, m)
}

// logFailure logs err, which stops command cmd (exit status 1), as one
// line at ERROR. main writes it to stderr as text as well, for a human at a
// terminal: a log pipeline that reads stdout's JSON (the usual Kubernetes or
// Docker set-up) saw "starting" and nothing more. Errors that stop the
// service never quote a token or a DSN's password, on either stream.
func logFailure(log *slog.Logger, cmd string, err error) {
	log.Error("stopped", "command", cmd, "error", err)
}

// closeMigrated closes the store once `api migrate` has brought its schema
// up to date. Its close waits no longer than the shutdown timeout (at least a
// second), as a stop's does: a close that hangs (a database that stopped
// answering just then) would keep the job from exiting; and, as a stop's,
// a second signal (cut) leaves it a second more at most (closeContext),
// for an operator who signals again means now. Past either the store is
// left as a crash would leave it, and the command fails, saying so. A close
// that fails (the WAL left beside the file on a full disk) is its error:
// the store does not log it, main writes it once.
func closeMigrated(cut context.Context, cfg config.Config, store closableStore, log *slog.Logger) error {
	closed := make(chan error, 1)
	go func() {
		closed <- store.Close()
	}()
	timeout := max(cfg.ShutdownTimeout, time.Second)
	ctx, cancel := closeContext(cut, time.Now().Add(timeout), log)
	defer cancel()
	select {
	case err := <-closed:
		if err != nil {
			return fmt.Errorf("the schema is up to date, but the store did not close cleanly: %w", err)
		}
		return nil
	case <-ctx.Done():
		if cut.Err() != nil {
			return fmt.Errorf("the schema is up to date, but the store did not close in time, cut short by a second signal: %w", ctx.Err())
		}
		return fmt.Errorf("the schema is up to date, but the store did not close in time (%s, %s)", timeout, config.Var("ShutdownTimeout"))
	}
}

// commandLike reports whether s could be a misspelt command, a short word
// of letters and dashes, which an error may quote.
func commandLike(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && r != '-' {
			return false
		}
	}
	return true
}

// readsMayLag reports whether store's reads may not yet see an append
// another instance acknowledged (a read replica, a Galera cluster).
func readsMayLag(store eventstore.Store) bool {
	ms, ok := store.(*mysqlstore.Store)
	return ok && ms.ReadsMayLag()
}

// closableStore is a store the binary owns.
type closableStore interface {
	eventstore.Store
	Close() error
}

// openStore opens and migrates the configured store: MySQL when
// TRIBUTARY_MYSQL_DSN is set, else the embedded SQLite store in
// TRIBUTARY_DATA_DIR. migrateOnly: for `api migrate`, which does not serve.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics, migrateOnly bool) (closableStore, error) {
	if cfg.MySQLDSN != "" {
		// An operator moving from the embedded store to MySQL: its log is
		// neither served nor copied, and nothing else would say so.
		if cfg.DataDir != "" {
			if path := filepath.Join(cfg.DataDir, sqlitestore.FileName); fileExists(path) {
				where := config.Var("DataDir")
				if def := config.Defaults().DataDir; cfg.DataDir == def {
					where += "'s default, " + def // the variable is likely unset: not to be looked for
				}
				log.Warn(fmt.Sprintf("an embedded store's log is at %s (%s), and is not served: %s is set, and the MySQL store is in use; "+
					"its events are not copied to MySQL", path, where, config.Var("MySQLDSN")), "path", path)
			}
		}
		return openMySQL(ctx, cfg, log, m, migrateOnly)
	}
	s, err := sqlitestore.Open(ctx, cfg.DataDir, sqlitestore.Options{Logger: log, Metrics: m, MaxEventBytes: cfg.MaxEventBytes, MigrateOnly: migrateOnly})
	if err != nil {
		return nil, fmt.Errorf("open the embedded store in %s (%s): %w", cfg.DataDir, config.Var("DataDir"), err)
	}
	if err := s.Migrate(ctx); err != nil {
		// The store logs nothing of a close that fails: said here, once.
		return nil, withStopError(fmt.Errorf("migrate the embedded store %s: %w", s.Path(), err), s.Close())
	}
	log.Info("store ready", "store", "sqlite", "path", s.Path(),
		"note", "embedded store for one instance; set "+config.Var("MySQLDSN")+" to use MySQL")
	return s, nil
}

// fileExists reports whether path names a file (not a directory).
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// errCutAtStart is openStoreUnlessCut's error where a second signal came
// before the store was open.
var errCutAtStart = errors.New("a second signal came before the store was open")

// openStoreUnlessCut is openStore, given up as soon as cut ends (a second
// signal): the open, left running, ends with the process. A store opened
// by then is returned.
func openStoreUnlessCut(ctx, cut context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics, migrateOnly bool) (closableStore, error) {
	type opened struct {
		store closableStore
		err   error
	}
	done := make(chan opened, 1)
	go func() {
		store, err := openStore(ctx, cfg, log, m, migrateOnly)
		done <- opened{store, err}
	}()
	select {
	case o := <-done:
		return o.store, o.err
	case <-cut.Done():
		select {
		case o := <-done:
			return o.store, o.err
		default:
			return nil, errCutAtStart
		}
	}
}

// warnUnverifiedTLS warns where setting's DSN takes the database server's
// certificate unverified (tls=skip-verify, tls=preferred), or falls back to
// plain text (tls=preferred, allowFallbackToPlaintext): such a start was
// silent, and a man in the middle would read the DSN's password and the
// events. The DSN itself is never logged.
func warnUnverifiedTLS(log *slog.Logger, setting, mode string) {
	verify := "use tls=true, which verifies the certificate against the system's roots (for a private CA, " + mysqlstore.PrivateCAAdvice(runtime.GOOS) + ")"
	switch mode {
	case mysqlstore.TLSUnverified:
		log.Warn(setting+" has tls=skip-verify: the connections to MySQL are encrypted, but the server's certificate is not verified: "+
			"anyone between can pose as the server and read the DSN's password and the events; "+verify, "tls", mode)
	case mysqlstore.TLSUnverifiedOrPlain:
		log.Warn(setting+" has tls=preferred: the server's certificate is not verified, and where the server offers no TLS the connections "+
			"are plain text: anyone between can read the DSN's password and the events; "+verify, "tls", mode)
	case mysqlstore.TLSVerifiedOrPlain:
		log.Warn(setting+" has allowFallbackToPlaintext=true: where the server offers no TLS the connections are plain text, "+
			"and anyone between can read the DSN's password and the events; remove it to require TLS", "tls", mode)
	}
}

// feedStaleAfter is how long the live feed may go without reading the log
// before /readyz says it is stalled: 30 s, or three poll intervals where
// TRIBUTARY_POLL_INTERVAL is longer (the feed reads only that often).
func feedStaleAfter(cfg config.Config) time.Duration {
	return max(30*time.Second, 3*cfg.PollInterval)
}

// catchUpReads is how many reads of history subscriptions may have in
// flight at once: half of the read pool (at least one), the other half left
// to clients' reads of pages.
func catchUpReads(cfg config.Config) int {
	if cfg.MySQLDSN == "" {
		return sqlitestore.DefaultMaxReaders / 2
	}
	return max(1, cfg.MySQLMaxConns/2)
}

// openMySQL opens and migrates the MySQL store, waiting up to the start-up
// timeout for a database that is still starting. migrateOnly: for `api
// migrate`, whose user need not be able to write what serving writes.
func openMySQL(parent context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics, migrateOnly bool) (*mysqlstore.Store, error) {
	ctx, cancel := context.WithTimeout(parent, cfg.StartupTimeout)
	defer cancel()
	// refused is the last refusal of the DSN's user met, logged once
	// while it stays the same: a password rotated in a secret store a
	// moment after this process read it is waited out as an unreachable
	// database is, not a crash loop under an orchestrator.
	var refused error
	// before is the last try's error that the timeout did not cut: a try
	// the timeout cuts (begun with little of it left) fails on whatever
	// it had reached, the primary's connect on a slow machine, and told
	// alone it sent an operator to a primary that answered, away from a
	// read replica that had refused every try (tellBefore).
	var before error
	tellBefore := func(err error) error {
		if before == nil || parent.Err() != nil {
			return err
		}
		return fmt.Errorf("%w (the last try, cut short by %s; the try before it: %w)", err, config.Var("StartupTimeout"), before)
	}
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		store, err := mysqlstore.Open(ctx, cfg.MySQLDSN, mysqlstore.Options{MaxConns: cfg.MySQLMaxConns, Logger: log, Metrics: m,
			AllowUnsafeDurability: cfg.AllowUnsafeDurability, ReadDSN: cfg.MySQLReadDSN, MaxEventBytes: cfg.MaxEventBytes, MigrateOnly: migrateOnly})
		answers := true // whether the database answered a ping at a migration's cut
		if err == nil {
			if err = store.Migrate(ctx); err == nil {
				attrs := []any{"store", "mysql", "addr", store.Addr(), "database", store.Database(), "tls", store.TLS(), "read_replica", store.ReadAddr()}
				if store.ReadAddr() != "" {
					attrs = append(attrs, "read_replica_tls", store.ReadTLS())
				}
				log.Info("store ready", attrs...)
				warnUnverifiedTLS(log, config.Var("MySQLDSN"), store.TLS())
				warnUnverifiedTLS(log, config.Var("MySQLReadDSN"), store.ReadTLS())
				return store, nil
			}
			if cut := (*migrations.CutError)(nil); errors.As(err, &cut) && errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
				answers = answering(parent, store)
			}
			store.Close()
		}
		if errors.Is(err, mysqlstore.ErrNotDurable) {
			return nil, fmt.Errorf("open MySQL store: %w (%s=true starts anyway)", err, config.Var("AllowUnsafeDurability"))
		}
		if held := (*migrations.LockHeldError)(nil); errors.As(err, &held) && parent.Err() == nil {
			return nil, fmt.Errorf("the migration lock was not free within %s (%s): %w", cfg.StartupTimeout, config.Var("StartupTimeout"), err)
		}
		if cut := (*migrations.CutError)(nil); errors.As(err, &cut) && errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil && !answers {
			// The database stopped answering under the migration (a
			// server stopped or hung, a network dropping everything): a
			// longer timeout would have waited longer for nothing.
			return nil, fmt.Errorf("migration %d (%s) was still running when %s (%s) ran out, and the database does not answer "+
				"(a ping got no answer: a server stopped, hung or overloaded, or a network dropping everything?); raising it would not help: "+
				"start again once the database answers (the next start completes what the database finished): %w",
				cut.Version, cut.File, config.Var("StartupTimeout"), cfg.StartupTimeout, cut.Err)
		}
		if cut := (*migrations.CutError)(nil); errors.As(err, &cut) && errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
			// Not a database that does not answer: a migration that takes
			// longer (a CREATE INDEX on a large events table).
			return nil, fmt.Errorf("migration %d (%s) was still running when %s (%s) ran out: a migration of a large table can take longer; "+
				"raise it for this start, or run `api migrate` with a larger one (the next start completes what the database finished): %w",
				cut.Version, cut.File, config.Var("StartupTimeout"), cfg.StartupTimeout, cut.Err)
		}
		if refused != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && parent.Err() == nil && !mysqlstore.UserRefused(err) {
			// The timeout ended a try after refusals, one not refused: the
			// user taken at last by a database slow to finish the start,
			// or a database no longer answering. Told as refused "on
			// every try", it had a working password mended.
			return nil, fmt.Errorf("the database refused the DSN's user a new session, then its last try within %s (%s) was not refused "+
				"but did not finish in time (a password mended meanwhile and a slow start, or a database no longer answering?); "+
				"the last refusal: %w; the last try: %w", cfg.StartupTimeout, config.Var("StartupTimeout"), refused, err)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && parent.Err() == nil && !errors.Is(err, eventstore.ErrUnavailable) {
			// The start-up timeout ended a statement, or the connection's
			// handshake, that the database had taken: one that refused
			// the connection is told below.
			return nil, tellBefore(fmt.Errorf("database did not answer within %s (%s): it accepted the connection, but did not answer in time "+
				"(a server stopped, hung or overloaded?): %w", cfg.StartupTimeout, config.Var("StartupTimeout"), err))
		}
		cutShort := ctx.Err() != nil // this try, by the timeout or a signal
		userRefused := mysqlstore.UserRefused(err)
		if userRefused {
			// The server's words never quote the password; a proxy's, or
			// an authentication plugin's, may.
			err = withoutDSNPasswords(err, cfg.MySQLDSN, cfg.MySQLReadDSN)
		}
		if !userRefused && !errors.Is(err, eventstore.ErrUnavailable) {
			return nil, fmt.Errorf("open MySQL store: %w", err)
		}
		// Whether a try comes after this wait: with less of the start-up
		// timeout left than the wait (a timeout shorter than one back-off,
		// or the back-off grown past what is left), none does, and the log
		// must not promise one.
		deadline, _ := ctx.Deadline()
		retries := time.Until(deadline) > wait
		if userRefused {
			if refused == nil || refused.Error() != err.Error() {
				// The server's words name the user and this host, the
				// error the server's address; never the password.
				msg := "the database refuses the DSN's user a new session; retrying until the start-up timeout "
				if !retries {
					msg = "the database refuses the DSN's user a new session; giving up at the start-up timeout, too near for a retry "
				}
				log.Warn(msg+"(a password rotated and not yet in the DSN, or a grant not yet made?)",
					"error", err, "startup_timeout", cfg.StartupTimeout)
			}
			refused = err
		} else {
			// The read replica, not the primary, when it is the one
			// that does not answer: an operator is sent to the right one.
			what := "database"
			if errors.Is(err, mysqlstore.ErrReplicaDownAtStart) {
				what = "read replica (TRIBUTARY_MYSQL_READ_DSN)"
			}
			if retries {
				log.Warn(what+" not reachable yet; retrying", "error", err, "retry_in", wait)
			} else {
				log.Warn(what+" not reachable yet; giving up at the start-up timeout, too near for a retry", "error", err, "startup_timeout", cfg.StartupTimeout)
			}
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil { // a signal, not the start-up timeout
				if userRefused {
					return nil, fmt.Errorf("the database refused the DSN's user: %w", err)
				}
				return nil, fmt.Errorf("database not reachable yet: %w", err)
			}
			if userRefused {
				return nil, userRefusedWithin(cfg, err)
			}
			if cutShort {
				return nil, tellBefore(fmt.Errorf("database not reachable within %s (%s): %w", cfg.StartupTimeout, config.Var("StartupTimeout"), err))
			}
			return nil, fmt.Errorf("database not reachable within %s (%s): %w", cfg.StartupTimeout, config.Var("StartupTimeout"), err)
		case <-time.After(wait):
		}
		if !cutShort {
			before = err
		}
	}
}

// userRefusedWithin is start-up's error where the database refused the
// DSN's user (err, the last refusal) until the start-up timeout ran out.
// The server's words name the user and host, never the password.
func userRefusedWithin(cfg config.Config, err error) error {
	setting := config.Var("MySQLDSN")
	if cfg.MySQLReadDSN != "" {
		setting += " (or " + config.Var("MySQLReadDSN") + ", where the error names the read replica)"
	}
	return fmt.Errorf("the database refused the DSN's user a new session on every try within %s (%s): "+
		"check the password in %s (a secret rotated on one side only?) and the user's grants on the database: %w",
		cfg.StartupTimeout, config.Var("StartupTimeout"), setting, err)
}

// cutPingWait bounds the ping that tells, at a migration cut by the
// start-up timeout, a database that answers (a migration that takes
// longer) from one that does not: /readyz's probes wait as long.
const cutPingWait = 2 * time.Second

// answering reports whether the database of store answers a ping within
// cutPingWait. A ping refused by the stall watch, or unanswered, is no
// answer; one that fails otherwise (a table the migration has yet to make)
// is an answer.
func answering(parent context.Context, store *mysqlstore.Store) bool {
	ctx, cancel := context.WithTimeout(parent, cutPingWait)
	defer cancel()
	err := store.Ping(ctx)
	return err == nil || store.Stall() == nil && ctx.Err() == nil
}

// awaitingLine returns config.LoadContext's awaiting: a line on stdout
// saying a DSN file that is no regular one is waited for, at INFO, the
// level in force not yet known.
func awaitingLine(stdout io.Writer) func(setting string, timeout time.Duration) {
	return func(setting string, timeout time.Duration) {
		newLogger(stdout, slog.LevelInfo).Info("waiting for a DSN file that is no regular file (a FIFO?) to be written and closed",
			"setting", setting, "timeout", timeout)
	}
}

// loadTokens reads the access tokens from TRIBUTARY_API_TOKENS and the file
// TRIBUTARY_API_TOKENS_FILE names, giving up when ctx ends. It refuses a
// token shorter than minTokenLength or one no Authorization header can
// carry, and either setting given but holding no entry (the server would be
// open). Errors never quote a token, nor the file's name (a token set in
// the wrong variable). awaiting, where not nil, is called once as a wait
// for a file that is no regular one begins (readTokensFile).
func loadTokens(ctx context.Context, cfg config.Config, awaiting func()) ([]esthttp.Token, error) {
	var b []byte
	if cfg.APITokensFile != "" {
		var err error
		if b, err = readTokensFile(ctx, cfg.APITokensFile, cfg.StartupTimeout, os.Stat, awaiting); err != nil {
			return nil, fmt.Errorf("read %s: %w", config.Var("APITokensFile"), err)
		}
	}
	return parseTokens(cfg, b)
}

// parseTokens is loadTokens' check of TRIBUTARY_API_TOKENS and of b, what
// was read of the file TRIBUTARY_API_TOKENS_FILE names (where it is set).
// The watch of the file (watchTokensFile) gives it the bytes it compared:
// the file read again could be another content, half written.
func parseTokens(cfg config.Config, b []byte) ([]esthttp.Token, error) {
	sources := []esthttp.TokenSource{{Name: config.Var("APITokens"), Text: cfg.APITokens}}
	if cfg.APITokensFile != "" {
		// A byte order mark, which some editors write, is no part of the
		// first entry's name.
		b = bytes.TrimPrefix(b, []byte("\ufeff"))
		// A file saved as UTF-16 (Windows Notepad's "Unicode") was refused
		// for a wrong role, which sent an operator to entries that were
		// right. Nothing of it is quoted: it may hold a token.
		if err := notUTF8Text(b); err != nil {
			return nil, fmt.Errorf("the file %s names %w: save it as UTF-8 text (a UTF-8 byte order mark may stay), one name:role:token a line",
				config.Var("APITokensFile"), err)
		}
		// Named by its lines: an operator finds a refused entry by them.
		file := esthttp.TokenSource{Name: config.Var("APITokensFile"), Text: string(b), Lines: true}
		sources = append(sources, file)
		// Asked for tokens from a file, fail closed: an empty one (a
		// secret not filled in, the wrong key mounted) would leave the
		// server open to anyone. It is parsed as its entries are below:
		// parsed otherwise, a file read there as one comment line (its
		// lines ended by "\r" alone) was taken here for one holding
		// entries, and the server started open.
		if inFile, _, err := esthttp.ParseTokenSources(file); err == nil && len(inFile) == 0 {
			return nil, fmt.Errorf("the file %s names holds no name:role:token entry: access control would be off; "+
				"put the tokens in it, or unset %s", config.Var("APITokensFile"), config.Var("APITokensFile"))
		}
	}
	tokens, places, err := esthttp.ParseTokenSources(sources...)
	if err != nil {
		return nil, fmt.Errorf("access tokens: %w", err)
	}
	for i, t := range tokens {
		// Which token is said by its place (the file's line, the
		// variable's entry), not its name: an entry written
		// token:role:name has a valid role, and its name is the token.
		// Nor is its length shown: it tells a guesser where to start.
		which := fmt.Sprintf("the token of %s", places[i])
		if utf8.RuneCountInString(t.Secret) < minTokenLength {
			return nil, fmt.Errorf("access tokens: %s is shorter than %d characters, few enough to guess by trying; "+
				"give it at least %d random ones (openssl rand -hex 32 makes one)", which, minTokenLength, minTokenLength)
		}
		// The header's token is trimmed, and a control character in a
		// header is refused: such a token would never match one.
		if t.Secret != strings.TrimSpace(t.Secret) || strings.ContainsFunc(t.Secret, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) {
			return nil, fmt.Errorf("access tokens: %s begins with a space or holds a control character, "+
				"which an Authorization header cannot carry; remove it (no space after the colons)", which)
		}
		// A bearer token holds no white space (RFC 6750's b64token): one
		// that does is likeliest an entry with a comment after it, which
		// became part of the token, and its holder's real token got 401.
		if i := strings.IndexFunc(t.Secret, unicode.IsSpace); i >= 0 {
			if strings.HasPrefix(strings.TrimLeftFunc(t.Secret[i:], unicode.IsSpace), "#") {
				return nil, fmt.Errorf("access tokens: %s holds white space and a # after it, a comment after the entry: "+
					"# starts a comment only at the beginning of an entry; put the comment on a line of its own", which)
			}
			return nil, fmt.Errorf("access tokens: %s holds white space, which no bearer token holds; remove it", which)
		}
	}
	// Set, but to no entry (each commented out, only commas): fail closed,
	// as for the file. Only an empty value means no access control.
	if len(tokens) == 0 && cfg.APITokens != "" {
		return nil, fmt.Errorf("%s is set but holds no name:role:token entry: access control would be off; "+
			"put the tokens in it, or unset it for a server open to anyone", config.Var("APITokens"))
	}
	return tokens, nil
}

// notUTF8Text returns an error saying why b, a tokens file, is not UTF-8
// text, or nil if it is.
func notUTF8Text(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return errors.New("begins with a UTF-16 byte order mark: it is UTF-16, not UTF-8")
	case bytes.IndexByte(b, 0) >= 0:
		return errors.New("holds NUL bytes: it is UTF-16 or UTF-32, or not text at all")
	case !utf8.Valid(b):
		return errors.New("is not valid UTF-8 (another encoding, such as Latin-1?)")
	}
	return nil
}

// minTokenLength is the fewest characters a token may have: 16 hex
// digits are 64 random bits, which no client guesses by trying tokens.
const minTokenLength = 16

// maxTokensFile is the most a tokens file may hold: thousands of tokens.
const maxTokensFile = 1 << 20

// readTokensFile reads the tokens file, refusing one larger than
// maxTokensFile rather than read it whole (a mount of the wrong file,
// /dev/zero). A regular file is read at once. Anything else (a FIFO a
// secret manager fills, a pipe) may never be opened for writing, or never
// end: it gets the start-up timeout, and ctx; past either the read is left
// blocked, and the start-up, failing, ends the process. stat is os.Stat
// (a test's swaps the file after its look); awaiting, where not nil, is
// called as that wait begins.
func readTokensFile(ctx context.Context, name string, timeout time.Duration, stat func(string) (fs.FileInfo, error), awaiting func()) ([]byte, error) {
	fi, statErr := stat(name)
	if statErr != nil || fi.Mode().IsRegular() {
		// Opened without waiting, and looked at again, as the watch
		// reads it (readTokensFileNow): a FIFO swapped in since the look
		// blocked a plain open for good, deaf to the timeout and to
		// SIGTERM. Such a one is waited for as one found by the look.
		// The look comes first all the same: an open, even one that does
		// not wait, lets a secret manager's writer waiting for a reader
		// write, to a reader about to close (EPIPE).
		b, err := readTokensFileNow(name)
		if !errors.Is(err, errNotRegular) {
			return b, err
		}
	}
	// A directory is no file a writer fills: its read fails at once, and
	// a wait said for it sent an operator after a secret manager.
	if awaiting != nil && (statErr != nil || !fi.IsDir()) {
		awaiting()
	}
	b, err := config.AwaitFile(ctx, timeout, func() ([]byte, error) { return readLimited(name) })
	if errors.Is(err, config.ErrNotWritten) {
		return nil, fmt.Errorf("the file (not a regular file: a FIFO or a pipe?) %w", err)
	}
	return b, err
}

// readLimited reads at most maxTokensFile bytes of the file name. Its
// errors do not quote name.
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, unquoted(err)
	}
	defer f.Close()
	return readLimitedFrom(f)
}

// readLimitedFrom reads at most maxTokensFile bytes of f.
func readLimitedFrom(f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, maxTokensFile+1))
	if err != nil {
		return nil, unquoted(err)
	}
	if len(b) > maxTokensFile {
		return nil, errors.New("the file holds more than 1 MiB; a tokens file holds name:role:token lines")
	}
	return b, nil
}

// unquoted drops the file name from an *os.PathError, keeping what failed
// and why (open: no such file or directory).
func unquoted(err error) error {
	var pe *os.PathError
	switch {
	case errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrPermission):
		// Who may not read it says what to fix (a secret mounted for
		// root, read by the image's user).
		return fmt.Errorf("%s the file: %w (this process runs as uid %d, gid %d)", pe.Op, pe.Err, os.Geteuid(), os.Getegid())
	case errors.As(err, &pe):
		return fmt.Errorf("%s the file: %w", pe.Op, pe.Err)
	}
	return err
}

// storeKind names the store cfg selects, as the start-up logs do.
func storeKind(cfg config.Config) string {
	if cfg.MySQLDSN != "" {
		return "mysql"
	}
	return "sqlite"
}

// serve runs the live feed and the HTTP server until ctx ends, then, for
// the shutdown delay, serves on with /readyz answering 503, then drains
// them: subscriptions end cleanly, requests in flight (appends included)
// finish, and only then do the feed and the store stop. The whole stop,
// the store's close included, takes at most the shutdown timeout, or
// minStoreClose where that is shorter (closeBy, taken as the stop begins);
// what still runs near its end, or when cut ends, is cut, and serve
// returns an error saying so.
func serve(ctx, cut context.Context, cfg config.Config, tokens []esthttp.Token, store closableStore, replica esthttp.Replica, log *slog.Logger, m *metrics.Metrics) error {
	return serveOn(ctx, cut, cfg, serveHooks{}, tokens, store, replica, log, m)
}

// serveHooks are serveOn's seams for tests; the zero value is what serve
// runs with.
type serveHooks struct {
	// access is the access control of tokens that run made, and whose
	// set the stores' lines are redacted with (nil: one made of tokens).
	access *esthttp.Access
	// listen opens the listeners (nil: net.Listen; a test gives one that
	// fails, or that records the address).
	listen func(network, address string) (net.Listener, error)
	// drain makes the drain's context, which ends at ends (nil:
	// context.WithDeadline); a test ends it when it has put the requests
	// in the order it means to test, not at a time.
	drain func(parent context.Context, ends time.Time) (context.Context, context.CancelFunc)
	// shutdown, if not nil, is told what http.Server.Shutdown returned
	// (nil: it saw every connection idle before the drain ended), so that a
	// test knows which way its stop went.
	shutdown func(error)
	// storeClose, if not nil, is told as the store's close at the end of a
	// stop begins when the stop is due to end (the shutdown timeout's end)
	// and when the close is (its context's deadline).
	storeClose func(stopDeadline, closeDue time.Time)
	// closedWaiting, if not nil, is called once the drain has closed the
	// connections that sent no whole request (Connections.CloseWaiting).
	closedWaiting func()
	// server, if not nil, is given each http.Server before it serves (the
	// API's, then the debug listener's).
	server func(*http.Server)
}

// defaultMaxConnections is TRIBUTARY_MAX_CONNECTIONS's default, where the
// open-file limit leaves room for it; minConnections the least it is where
// the limit leaves room for fewer.
const (
	defaultMaxConnections = 10000
	minConnections        = 16
)

// connectionBounds returns the bounds on connections the configuration
// sets: its own, or where it leaves them 0, defaultMaxConnections, or fewer
// where the open-file limit leaves room for fewer once the files the
// process needs for itself and its database are set aside; and half of it
// for one client. A bound set above what the limit leaves room for is
// kept, with a warning: accept would fail before it is reached. A limit
// too low to leave minConnections beside the files set aside is warned of
// whatever the bound. limit is the open-file limit, if limited.
func connectionBounds(cfg config.Config, limit uint64, limited bool, log *slog.Logger) (maxConns, perClient int) {
	room := defaultMaxConnections
	// Files set aside: 128 for the server itself, and the database's: two
	// for each of MySQL's read pool (a connection and its slack), or the
	// embedded store's readers' and writer's (a database file and its WAL
	// each).
	reserve := uint64(128 + 2*cfg.MySQLMaxConns)
	if cfg.MySQLDSN == "" {
		reserve = uint64(128 + 2*(sqlitestore.DefaultMaxReaders+1))
	}
	if limited {
		room = int(min(uint64(defaultMaxConnections), max(limit, reserve+minConnections)-reserve))
	}
	maxConns = cfg.MaxConnections
	if maxConns == 0 {
		maxConns = room
	}
	switch {
	case limited && limit < reserve+minConnections:
		// The default at its floor, or any bound: the files set aside
		// are not there, and accept fails with "too many open files"
		// before a bound is reached.
		log.Warn("the open-file limit is too low for the files the server sets aside for itself and its database (128, and two for each of the database's connections) and "+fmt.Sprint(minConnections)+" connections: accept may fail (too many open files) and clients wait; raise the limit (ulimit -n, LimitNOFILE, --ulimit nofile)",
			"open_file_limit", limit, "set_aside", reserve, "max_connections", maxConns)
	case limited && maxConns > room:
		log.Warn("the open-file limit leaves room for fewer connections than "+config.Var("MaxConnections")+" allows: past it, new connections wait to be accepted; raise the limit (ulimit -n, LimitNOFILE, --ulimit nofile) or lower the setting",
			"open_file_limit", limit, "room", room, "max_connections", maxConns)
	}
	perClient = cfg.MaxConnectionsPerClient
	if perClient == 0 {
		perClient = max(1, maxConns/2)
	} else if perClient > maxConns {
		log.Warn(config.Var("MaxConnectionsPerClient")+" is above the connections the server holds in all: it is lowered to them",
			"max_connections_per_client", perClient, "max_connections", maxConns)
	}
	return maxConns, min(perClient, maxConns)
}

// serveOn is serve with the seams of hooks (tests').
func serveOn(ctx, cut context.Context, cfg config.Config, hooks serveHooks,
	tokens []esthttp.Token, store closableStore, replica esthttp.Replica, log *slog.Logger, m *metrics.Metrics) error {
	listen := hooks.listen
	if listen == nil {
		listen = net.Listen
	}
	drainContext := hooks.drain
	if drainContext == nil {
		drainContext = context.WithDeadline
	}
	switch {
	case len(tokens) == 0 && cfg.TokensSetEmpty():
		// Empty is off, as compose.yaml passes it by default; an empty
		// secret meant to hold tokens is too, and must not pass unseen.
		log.Warn(tokensSetEmptyWarning)
	case len(tokens) == 0:
		log.Warn("access control is off: anyone who can reach this server can read and append; set " + config.Var("APITokens") + " to require tokens")
	default:
		log.Info("access control is on", "tokens", len(tokens))
	}
	// The tokens file is read again as it changes (tokensreload.go).
	access := hooks.access
	if access == nil {
		access = esthttp.NewAccess(tokens)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchTokensFile(watchCtx, cfg, access, tokensCheckEvery, readTokensFileNow, log, m)
	feed := fanout.New(store, fanout.Options{PollInterval: cfg.PollInterval, MaxEventBytes: cfg.MaxEventBytes, Logger: log, Metrics: m,
		CatchUpReads: catchUpReads(cfg), Redact: access.Redact})
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	var feedDone chan error // nil until the feed runs
	// The feed starts once the server listens: a start-up that fails
	// before (an address in use) stopped it as it read the log's head,
	// and its warning came before the real error.
	startFeed := func() {
		feedDone = make(chan error, 1)
		go func() { feedDone <- feed.Run(feedCtx) }()
	}
	// The feed stops, then the store closes, once no handler uses them.
	// A close that fails is the stop's error (exit status 1).
	var stopDeadline time.Time // the shutdown timeout's end, once a stop begins
	stopStore := func(ctx context.Context) error {
		if due, ok := ctx.Deadline(); ok && hooks.storeClose != nil && !stopDeadline.IsZero() {
			hooks.storeClose(stopDeadline, due)
		}
		stopFeed()
		closed := make(chan error, 1)
		go func() {
			if feedDone != nil {
				<-feedDone
			}
			closed <- store.Close()
		}()
		select {
		case err := <-closed:
			if err != nil {
				// Said once, by main, which writes the stop's error to
				// stderr (exit status 1): what was acknowledged is committed.
				return fmt.Errorf("close the store: %w", err)
			}
			return nil
		case <-ctx.Done():
			// Left as a crash would leave it: what was acknowledged is committed.
			if cut.Err() != nil {
				return fmt.Errorf("the store did not close in time, cut short by a second signal: %w", ctx.Err())
			}
			return fmt.Errorf("the store did not close in time: %w", ctx.Err())
		}
	}
	// Before anything listens, no handler uses the store: it closes at once,
	// or, if its close hangs, is left after the shutdown timeout (at least a
	// second), as a stop leaves it.
	stopStoreNow := func() error {
		ctx, cancel := closeContext(cut, time.Now().Add(max(cfg.ShutdownTimeout, time.Second)), log)
		defer cancel()
		return stopStore(ctx)
	}

	handler := esthttp.New(feed.Notifying(store), esthttp.Options{
		Logger:                  log,
		MaxBodyBytes:            cfg.MaxBodyBytes,
		MaxBodyBytesInFlight:    cfg.MaxBodyBytesInFlight,
		MaxClientBytesInFlight:  cfg.MaxClientBytesInFlight,
		MaxBatch:                cfg.MaxBatch,
		OpenAPI:                 api.OpenAPI,
		Feed:                    feed,
		FeedStaleAfter:          feedStaleAfter(cfg),
		Heartbeat:               cfg.Heartbeat,
		StallTimeout:            cfg.SubscriberStallTimeout,
		Access:                  access,
		MaxEventBytes:           cfg.MaxEventBytes,
		MaxSubscribers:          cfg.MaxSubscribers,
		MaxSubscribersPerClient: cfg.MaxSubscribersPerClient,
		RequestTimeout:          cfg.RequestTimeout,
		Metrics:                 m,
		CORSOrigins:             cfg.CORSOrigins,
		Replica:                 replica,
		ReadsMayLag:             readsMayLag(store),
	})
	maxSubs, subsPerClient := handler.SubscriberLimits()
	limit, limited := openFileLimit()
	maxConns, perClient := connectionBounds(cfg, limit, limited, log)
	conns := esthttp.NewConnections(maxConns, perClient, log, m)
	if len(cfg.CORSOrigins) > 0 {
		conns.AllowOrigins(cfg.CORSOrigins) // its refusals, too, readable by the pages
	}
	// net/http's own lines (a panic that escaped a handler, with its value;
	// a TLS handshake's error; a handler's mistake) may quote what a client
	// sent: a token in them is redacted as in every other line of the
	// HTTP layer's.
	netHTTPLog := slog.NewLogLogger(sqlstore.RedactingLogger(log, access.Redact).Handler(), slog.LevelWarn)
	srv := &http.Server{
		Handler:           handler,
		ConnState:         conns.ConnState,       // which connections are idle, for conns
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, // against slowloris
		ReadTimeout:       cfg.ReadTimeout,       // against slow bodies; subscriptions send none
		// No WriteTimeout: it would cut subscriptions. Normal responses get
		// a write deadline per request (esthttp's timeout middleware).
		IdleTimeout: 120 * time.Second,
		ConnContext: esthttp.ConnContext, // lets a subscription see its client's progress
		// OPTIONS * reaches the API, which says its methods in Allow.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     netHTTPLog,
	}
	// Shutdown waits for responses to end; subscriptions never would.
	srv.RegisterOnShutdown(handler.CloseSubscriptions)
	// It waits for a new connection, too, until it is 5 s old: those that
	// sent no whole request are closed at once.
	srv.RegisterOnShutdown(func() {
		conns.CloseWaiting()
		if hooks.closedWaiting != nil {
			hooks.closedWaiting()
		}
	})
	if hooks.server != nil {
		hooks.server(srv)
	}
	if ctx.Err() != nil {
		// A signal during the start-up that its last step did not see (a
		// migration ending as it came): stop as at a signal while the
		// database is awaited. Nothing listened, so no load balancer sends
		// here: no shutdown delay, nothing to drain.
		if err := stopStoreNow(); err != nil {
			return fmt.Errorf("stopped before listening: %w", err)
		}
		log.Info("stopped", "before", "listening", signalAttr(ctx))
		return nil
	}
	ln, err := listen("tcp", cfg.Addr)
	if err != nil {
		return withStopError(fmt.Errorf("listen on %s (%s): %w", cfg.Addr, config.Var("Addr"), err), stopStoreNow())
	}
	// As configured, 0.0.0.0 not Go's [::] (listenedAddr).
	addr, boundAt := listenedAddr(cfg.Addr, ln.Addr())
	bound := boundAttr(boundAt)
	if len(tokens) > 0 && !isLoopback(ln.Addr()) {
		// The server has no TLS: off the loopback, each request's bearer
		// token crosses the network in clear unless a proxy terminating
		// TLS is in front, which the server cannot see.
		log.Warn("access tokens are on, and the server listens in plain HTTP (it has no TLS) on an address other hosts may reach: "+
			"a client that reaches it directly sends its token in clear, for anyone between to take; put a proxy that terminates TLS in front "+
			"and keep this port off the networks clients use, or listen on the loopback ("+config.Var("Addr")+"=127.0.0.1:8080) behind a proxy on this host",
			"addr", addr, bound)
	}
	ln = conns.Listener(ln)
	errc := make(chan error, 2)
	debugAddr := "off"
	if cfg.DebugAddr != "" {
		dln, err := listen("tcp", cfg.DebugAddr)
		if err != nil {
			ln.Close()
			return withStopError(fmt.Errorf("listen on %s (%s): %w", cfg.DebugAddr, config.Var("DebugAddr"), err), stopStoreNow())
		}
		debugSrv := &http.Server{
			Handler:           debugHandler(m),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ErrorLog:          netHTTPLog,
		}
		// Up while the API drains, then closed, not drained: a profile in
		// progress is cut rather than waited for.
		defer debugSrv.Close()
		if hooks.server != nil {
			hooks.server(debugSrv)
		}
		var debugBound string
		debugAddr, debugBound = listenedAddr(cfg.DebugAddr, dln.Addr())
		log.Info("debug listening", "addr", debugAddr, boundAttr(debugBound), "serves", "/debug/pprof/")
		if !isLoopback(dln.Addr()) {
			log.Warn("the debug listener is reachable from other hosts: it shows profiles and the command line; keep " + config.Var("DebugAddr") + " private")
		}
		go func() { errc <- fmt.Errorf("serve debug listener: %w", debugSrv.Serve(dln)) }()
	}
	log.Info("listening", "addr", addr, bound, "version", buildVersion(), "store", storeKind(cfg), "debug", debugAddr,
		"access_control", len(tokens) > 0, "cors_origins", len(cfg.CORSOrigins), "metrics", "/metrics",
		"max_connections", maxConns, "max_connections_per_client", perClient,
		"max_subscribers", maxSubs, "max_subscribers_per_client", subsPerClient)
	startFeed()
	go func() { errc <- fmt.Errorf("serve: %w", srv.Serve(ln)) }()
	select {
	case err := <-errc:
		stopDeadline = time.Now().Add(cfg.ShutdownTimeout)
		return failStop(srv, handler, stopStore, log, stopDeadline, closeBy(stopDeadline), err)
	case <-ctx.Done():
	}
	// The whole stop takes at most the shutdown timeout, since whoever
	// sent SIGTERM kills the process then (Kubernetes'
	// terminationGracePeriodSeconds, docker stop --time). The shutdown
	// delay comes first, inside it. Requests get all of it but the last
	// second (a fifth of a shorter one), in which what still runs is cut,
	// its handlers return (their contexts end with their connections) and
	// the store closes. A second signal cuts at once.
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	stopDeadline = deadline
	// The store's close is due by the timeout's end, or, where that is
	// less than minStoreClose away, by minStoreClose from now: fixed here,
	// at the stop's start, so that a close begun late in the timeout (its
	// requests cut only at its end) does not take the stop past it.
	closeDue := closeBy(deadline)
	reserve := cfg.ShutdownReserve()
	if cfg.ShutdownDelay > 0 {
		// A load balancer, or a Kubernetes Service, goes on sending new
		// connections for a while after SIGTERM (endpoints are removed
		// asynchronously), and net/http closes unanswered those whose request
		// it reads once Shutdown has begun. Until the delay is over, /readyz
		// says the server is going, and everything else is served as usual.
		handler.Stopping()
		log.Info("shutdown delay: not ready, still serving", signalAttr(ctx), "delay", cfg.ShutdownDelay, "timeout", cfg.ShutdownTimeout)
		delay := time.NewTimer(cfg.ShutdownDelay)
		select {
		case <-delay.C:
		case err := <-errc:
			delay.Stop()
			return failStop(srv, handler, stopStore, log, deadline, closeDue, err)
		case <-cut.Done():
			delay.Stop()
			if soon := time.Now().Add(reserve); soon.Before(deadline) {
				deadline = soon
			}
			return cutStop(srv, handler, stopStore, log, deadline, earlier(closeDue, closeBy(deadline)), "shutdown delay cut short by a second signal", nil)
		}
	}
	log.Info("shutting down", signalAttr(ctx), "timeout", cfg.ShutdownTimeout)
	drainCtx, cancelDrain := drainContext(cut, deadline.Add(-reserve))
	defer cancelDrain()
	drainErr := srv.Shutdown(drainCtx)
	if hooks.shutdown != nil {
		hooks.shutdown(drainErr)
	}
	if drainErr != nil && cut.Err() == nil && handler.Wait(drainCtx) == nil {
		// Near its end, Shutdown looks for idle connections only every
		// half second: one whose request was answered in the last moments
		// is not yet seen idle. No handler runs (Wait, its time up, says
		// so at once): closing them cuts nothing.
		srv.Close() //nolint:errcheck // closes the listeners and connections; nothing of theirs is running
		drainErr = nil
	}
	if drainErr == nil {
		// Live subscriptions left net/http's accounting when they took their
		// connections over; CloseSubscriptions has told them to end.
		drainErr = handler.Wait(drainCtx)
	}
	if drainErr == nil {
		// Nothing uses the store any more: it closes at once, or, if its
		// close hangs (a database that stopped answering), is left as a
		// crash leaves it at the end of the timeout.
		endCtx, cancelEnd := closeContext(cut, closeDue, log)
		defer cancelEnd()
		if err := stopStore(endCtx); err != nil {
			return fmt.Errorf("shut down: %w", err)
		}
		log.Info("stopped")
		return nil
	}
	why := fmt.Sprintf("the drain did not finish within %s (%s)", cfg.ShutdownTimeout, config.Var("ShutdownTimeout"))
	if drainErr == context.Canceled || drainErr == context.DeadlineExceeded {
		// Shutdown's error is its context's own, which says nothing of
		// what it cut: say how many requests (subscriptions among them)
		// still ran, as Wait's does; none, where only connections were.
		ended, end := context.WithCancel(context.Background())
		end()
		drainErr = handler.Wait(ended)
	}
	if cut.Err() != nil {
		why = "drain cut short by a second signal"
		if soon := time.Now().Add(reserve); soon.Before(deadline) {
			deadline = soon
		}
	}
	return cutStop(srv, handler, stopStore, log, deadline, earlier(closeDue, closeBy(deadline)), why, drainErr)
}

// earlier returns the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// failStop stops a server whose listener failed (err), as cutStop does
// (cutAndStop). It returns err, with what kept the stop from finishing.
func failStop(srv *http.Server, handler *esthttp.Server, stopStore func(context.Context) error, log *slog.Logger, deadline, closeDue time.Time, err error) error {
	// err itself is logged once, by main, which returns it as the exit status.
	log.Warn("a listener stopped serving; cutting what still runs")
	waitErr, storeErr := cutAndStop(srv, handler, stopStore, deadline, closeDue)
	if waitErr != nil {
		return fmt.Errorf("%w; the store was left open: %w", err, waitErr)
	}
	return withStopError(err, storeErr)
}

// cutStop cuts what still runs and stops the store (cutAndStop), and
// returns an error saying why the stop was cut.
func cutStop(srv *http.Server, handler *esthttp.Server, stopStore func(context.Context) error, log *slog.Logger, deadline, closeDue time.Time, why string, drainErr error) error {
	if drainErr != nil {
		log.Warn(why+"; cutting what still runs", "error", drainErr)
	} else {
		log.Warn(why + "; cutting what still runs")
	}
	waitErr, storeErr := cutAndStop(srv, handler, stopStore, deadline, closeDue)
	if err := cmp.Or(waitErr, storeErr); err != nil {
		return fmt.Errorf("shut down: %s: %w", why, err)
	}
	return fmt.Errorf("shut down: %s; the requests still running were cut", why)
}

// cutAndStop closes srv, cutting every request still running, ends the
// subscriptions, waits for their handlers to return, then for the store to
// close by closeDue, leaving the close a share of what is left before
// deadline. waitErr is the handlers' not returning in time,
// and then the store is left open: no store may close under a handler
// still using it, and each of their requests is logged as cut; storeErr is
// the store's close failing.
func cutAndStop(srv *http.Server, handler *esthttp.Server, stopStore func(context.Context) error, deadline, closeDue time.Time) (waitErr, storeErr error) {
	// What still runs is cut, and logged as the server's doing: each
	// request's context ends, and one that has written nothing yet is
	// answered 503 with Retry-After as its handler returns (a client whose
	// connection was closed under it had no answer at all). Subscriptions
	// took their connections over, and Close leaves those; a cut during
	// the shutdown delay comes before Shutdown has ended them.
	handler.Cut()
	handler.CloseSubscriptions()
	// The handlers get half of what is left to answer before their
	// connections close; one that does not return on its context's end
	// (an append whose commit is on its way to a frozen database) is cut
	// then, as before.
	answerCtx, cancelAnswer := context.WithDeadline(context.Background(), time.Now().Add(time.Until(deadline)/2))
	_ = handler.Wait(answerCtx) // its error is the next Wait's to report
	cancelAnswer()
	// What still runs now has its connection closed under it, and is
	// logged as cut; what was answered in the window keeps its status.
	handler.ClosingConnections()
	srv.Close()
	// The handlers get half of what is left again, the store's close the
	// rest (a quarter of it all, at least, but for a handler returning
	// late), due by closeDue: a close begun in the last moment got a
	// second of its own, and took the stop past the timeout.
	endCtx, cancelEnd := context.WithDeadline(context.Background(), time.Now().Add(time.Until(deadline)/2))
	defer cancelEnd()
	if err := handler.Wait(endCtx); err != nil {
		// The process exits without them (an append whose commit is on its
		// way to a frozen database): their lines are logged now.
		handler.Abandon()
		return err, nil
	}
	closeCtx, cancelClose := context.WithDeadline(context.Background(), closeDue)
	defer cancelClose()
	return nil, stopStore(closeCtx)
}

// minStoreClose is the least time a stop gives the store's close, once no
// handler runs, whatever is left of the shutdown timeout: with
// TRIBUTARY_SHUTDOWN_TIMEOUT=0s (no drain), none was left, and every stop,
// even of an idle server, left the store as a crash leaves it and exited
// 1. A start-up that fails gives the close as much. (Handlers still running
// are waited for no longer than the timeout: the process is gone by then.)
const minStoreClose = time.Second

// closeContext returns the context of a store's close due by deadline,
// once nothing uses the store, which a second signal (cut) shortens to
// minStoreClose from it: an operator who signals again means now, and a
// close that hangs (a database that stopped answering) held the stop for
// the rest of the timeout. A cut already there shortens it at once.
func closeContext(cut context.Context, deadline time.Time, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	stop := context.AfterFunc(cut, func() {
		if soon := time.Now().Add(minStoreClose); soon.Before(deadline) {
			log.Warn("a second signal while the store closes: it gets " + minStoreClose.String() + " more, then is left as a crash leaves it (what was acknowledged is committed)")
			t := time.AfterFunc(minStoreClose, cancel)
			context.AfterFunc(ctx, func() { t.Stop() })
		}
	})
	return ctx, func() {
		stop()
		cancel()
	}
}

// closeBy is when the store's close at the end of a stop due by deadline
// must be over: deadline, or minStoreClose from now if that is later. A
// stop takes it as it begins: taken as the close began, late in the
// timeout, it took the stop up to minStoreClose past it.
func closeBy(deadline time.Time) time.Time {
	if soon := time.Now().Add(minStoreClose); soon.After(deadline) {
		return soon
	}
	return deadline
}

// withStopError returns err, which stopped the service, with stopErr, what
// went wrong in stopping it, if anything did.
func withStopError(err, stopErr error) error {
	if stopErr == nil {
		return err
	}
	return fmt.Errorf("%w; %w", err, stopErr)
}
