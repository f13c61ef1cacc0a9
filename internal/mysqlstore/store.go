// Package mysqlstore is the MySQL/MariaDB implementation of eventstore.Store.
//
// Appends go through the group-commit writer (package groupcommit). Each of
// its transactions locks the single log_head row first and keeps it until
// COMMIT, so commits are serialised across every process on the database,
// and positions become visible in the order they were assigned: a reader
// that has seen position N has already been able to see every position below it.
package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventsql"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/groupcommit"
	"github.com/tributary-dev/tributary/internal/migrations"
)

var _ eventstore.Store = (*Store)(nil)

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxConns is the size of the read pool (default 16). Idle connections are
	// kept up to the same number: reconnecting under load costs more than idling.
	MaxConns int
	// Logger receives the store's own log lines (default: discard).
	Logger *slog.Logger
	// AllowUnsafeDurability lets Open succeed on a server whose settings
	// could lose acknowledged appends in a crash (it logs a warning instead).
	AllowUnsafeDurability bool
}

// Store is an event store on a MySQL or MariaDB database. Close it when done.
type Store struct {
	eventsql.Reader
	db     *sql.DB // reads for clients
	wdb    *sql.DB // the writer's own pool, so slow readers never hold up appends
	feedDB *sql.DB // the live feed's, the fence's and the readiness probe's: no client can take them
	log    *slog.Logger
	writer *groupcommit.Writer
	cfg    *mysql.Config
	fence  bool // waitDurable must write: the binary log is off

	durable atomic.Int64  // every commit up to this position is known to be on disk
	fencing chan struct{} // held while a fence commits
}

// Addr is the database server's address.
func (s *Store) Addr() string { return s.cfg.Addr }

// Database is the database's name on the server.
func (s *Store) Database() string { return s.cfg.DBName }

// Open connects to the database named by dsn (go-sql-driver format), checks
// that it answers and starts the writer. It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse MySQL DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("MySQL DSN names no database (user:pass@tcp(host:3306)/DBNAME)")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// The append transaction reads the server's clock with SYSDATE, which
	// answers in the session's time zone.
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// Client-side interpolation makes a statement one round trip instead of
	// three (prepare, execute, close); the driver still escapes every value.
	if !strings.Contains(dsn, "interpolateParams=") {
		cfg.InterpolateParams = true
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure MySQL connector: %w", err)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxLifetime(30 * time.Minute)
	wdb := sql.OpenDB(connector)
	wdb.SetMaxOpenConns(2)
	wdb.SetMaxIdleConns(2)
	wdb.SetConnMaxLifetime(30 * time.Minute)
	// The tailer reads while the fence writes, and a probe may come meanwhile.
	feedDB := sql.OpenDB(connector)
	feedDB.SetMaxOpenConns(3)
	feedDB.SetMaxIdleConns(3)
	feedDB.SetConnMaxLifetime(30 * time.Minute)

	s := &Store{db: db, wdb: wdb, feedDB: feedDB, log: opts.Logger, cfg: cfg, fencing: make(chan struct{}, 1)}
	// What clients read rests only on durable commits: see waitDurable.
	s.Reader = eventsql.Reader{DB: db, Translate: translate, Durable: s.waitDurable}
	if err := s.Ping(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("connect to MySQL at %s: %w", cfg.Addr, err)
	}
	d, err := s.readDurability(ctx)
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	if why := d.unsafe(); why != "" {
		if !opts.AllowUnsafeDurability {
			s.closeDBs()
			return nil, fmt.Errorf("%w: %s; fix the server's settings, or set TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true to accept losing acknowledged appends in a crash", ErrNotDurable, why)
		}
		opts.Logger.Warn("acknowledged appends can be lost in a crash of the database", "reason", why)
	}
	s.fence = !d.logBin
	s.writer = groupcommit.New(writeBackend{db: wdb, store: s}, opts.Logger)
	return s, nil
}

// Migrate brings the schema up to date; see migrations.ApplyMySQL.
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrations.ApplyMySQL(ctx, s.db, s.log); err != nil {
		return translate(err)
	}
	return nil
}

// Close finishes the appends already handed to the writer, refuses new ones
// and closes the database pools.
func (s *Store) Close() error {
	s.writer.Close()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	return errors.Join(s.db.Close(), s.wdb.Close(), s.feedDB.Close())
}

// Ping reports whether the database answers, on the live feed's connections.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.feedDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", translate(err))
	}
	return nil
}

// MySQL error numbers the store acts on.
const (
	errDupKey          = 1062
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
	errTooManyConns    = 1040
	errServerShutdown  = 1053
	errConnCount       = 1203 // user has too many connections
)

// translate maps driver errors to the store's vocabulary, by number, at the
// edge: an unreachable server becomes eventstore.ErrUnavailable.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errTooManyConns, errServerShutdown, errConnCount:
			return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ne net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// SetDriverLogger sends the driver's own log lines (such as dropping a dead
// idle connection) to log. The setting is process-wide: call it once, early.
func SetDriverLogger(log *slog.Logger) {
	_ = mysql.SetLogger(driverLogger{log}) // fails only for a nil logger
}

// driverLogger adapts slog to the driver's logger interface.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Warn("mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
}
