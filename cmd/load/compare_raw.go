package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the driver the embedded store uses

	"github.com/tributary-dev/tributary/internal/migrations"
)

// rawSide does the work straight through the database driver, on a
// database of its own with the service's schema.
type rawSide struct {
	writes, reads *sql.DB
	// locked runs the ordered floor (orderedFloor): one connection with
	// multi-statements; MySQL only.
	locked   *sql.DB
	version  string // the database's, and its durability settings
	position atomic.Int64
	seeded   uuid.UUID // the stream both reads read
}

// openRawMySQL opens the database dsn names with the service's driver
// settings (client-side interpolation, times in UTC) and creates the
// service's tables in it.
func openRawMySQL(ctx context.Context, dsn string) (*rawSide, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	cfg.ParseTime, cfg.Loc, cfg.InterpolateParams = true, time.UTC, true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("raw: open: %w", err)
	}
	// A connection per client, and no reconnecting between ops.
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	r := &rawSide{writes: db, reads: db}
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw: create the tables: %w", err)
	}
	var version, flush, logBin, syncBinlog string
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@log_bin, @@sync_binlog").
		Scan(&version, &flush, &logBin, &syncBinlog); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw: read the server's version: %w", err)
	}
	r.version = fmt.Sprintf("MySQL/MariaDB %s, innodb_flush_log_at_trx_commit=%s, log_bin=%s, sync_binlog=%s", version, flush, logBin, syncBinlog)
	cfg.MultiStatements = true
	if r.locked, err = sql.Open("mysql", cfg.FormatDSN()); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw: open: %w", err)
	}
	r.locked.SetMaxOpenConns(1)
	r.locked.SetMaxIdleConns(1)
	return r, nil
}

// openRawSQLite creates an SQLite file in dir with the embedded store's
// settings (WAL, synchronous=FULL, the same busy timeout; writes through
// one connection, IMMEDIATE transactions) and the service's tables.
func openRawSQLite(ctx context.Context, dir string) (*rawSide, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	dsn := filepath.Join(dir, "raw.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_timezone=UTC"
	pool := func(dsn string, size int) *sql.DB {
		db, _ := sql.Open("sqlite", dsn) // fails only on an unknown driver name
		db.SetMaxOpenConns(size)
		db.SetMaxIdleConns(size)
		return db
	}
	r := &rawSide{writes: pool(dsn+"&_txlock=immediate", 1), reads: pool(dsn, 8)}
	if err := migrations.ApplySQLite(ctx, r.writes, slog.New(slog.DiscardHandler)); err != nil {
		r.close()
		return nil, fmt.Errorf("raw: create the tables: %w", err)
	}
	var version, journal string
	var sync int
	if err := r.writes.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		r.close()
		return nil, fmt.Errorf("raw: read the version: %w", err)
	}
	if err := errors.Join(r.writes.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal),
		r.writes.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)); err != nil {
		r.close()
		return nil, fmt.Errorf("raw: read the settings: %w", err)
	}
	if journal != "wal" || sync != 2 {
		r.close()
		return nil, fmt.Errorf("raw: expected journal_mode wal and synchronous 2 (FULL), got %s and %d", journal, sync)
	}
	r.version = fmt.Sprintf("SQLite %s (modernc.org/sqlite), journal_mode=WAL, synchronous=FULL", version)
	return r, nil
}

func (r *rawSide) close() {
	if r.locked != nil {
		r.locked.Close()
	}
	r.writes.Close()
	if r.reads != r.writes {
		r.reads.Close()
	}
}

const rawInsert = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at) VALUES "

// insert writes events n of stream at versions from+1 … from+n in one
// auto-committed INSERT: one durable transaction.
func (r *rawSide) insert(ctx context.Context, stream uuid.UUID, from int64, n int) error {
	first := r.position.Add(int64(n)) - int64(n) + 1
	now := time.Now().UTC().Truncate(time.Microsecond)
	args := make([]any, 0, 9*n)
	for i := range int64(n) {
		id := uuid.New()
		args = append(args, first+i, id[:], stream[:], from+i+1, streamType, eventType, []byte(eventData), nil, now)
	}
	tuple := "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if _, err := r.writes.ExecContext(ctx, rawInsert+tuple+strings.Repeat(", "+tuple, n-1), args...); err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}
	return nil
}

// seed writes the stream the reads read: the first readEvents positions.
func (r *rawSide) seed(ctx context.Context) error {
	r.seeded = uuid.New()
	for v := int64(0); v < readEvents; v += batchSize {
		if err := r.insert(ctx, r.seeded, v, batchSize); err != nil {
			return err
		}
	}
	return nil
}

func (r *rawSide) appends(clients, batch int) op {
	streams := make([]uuid.UUID, clients)
	versions := make([]int64, clients) // each used by its client's goroutine only
	for i := range streams {
		streams[i] = uuid.New()
	}
	return func(ctx context.Context, c int) (int, error) {
		if err := r.insert(ctx, streams[c], versions[c], batch); err != nil {
			return 0, err
		}
		versions[c] += int64(batch)
		return batch, nil
	}
}

// orderedFloor is one client's least append that keeps the log in commit
// order under a lock, as the service's does (so that no subscriber skips an
// event): one round trip of START TRANSACTION, a locking read of the
// log_head row, the single-row INSERT and COMMIT. It writes neither the
// stream's row nor the head, which the service also does, and checks no
// version: a floor, not a rival design. With the HTTP floor added, it bounds
// what one client's append can reach against the raw insert here.
func (r *rawSide) orderedFloor() op {
	stream := uuid.New()
	var version int64
	return func(ctx context.Context, _ int) (int, error) {
		id := uuid.New()
		version++
		_, err := r.locked.ExecContext(ctx, "START TRANSACTION; SELECT position FROM log_head WHERE id = 1 FOR UPDATE; "+
			rawInsert+"(?, ?, ?, ?, ?, ?, ?, ?, ?); COMMIT",
			r.position.Add(1), id[:], stream[:], version, streamType, eventType, []byte(eventData), nil, time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			return 0, fmt.Errorf("raw ordered insert: %w", err)
		}
		return 1, nil
	}
}

const rawColumns = "SELECT position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at FROM events "

func (r *rawSide) readStream() op {
	return func(ctx context.Context, _ int) (int, error) {
		n := 0
		var page []readEvent
		var last int64
		var err error
		for from := int64(1); from <= readEvents; from += pageSize {
			page, err = r.scan(ctx, page[:0], rawColumns+"WHERE stream_id = ? AND stream_version BETWEEN ? AND ? ORDER BY stream_version",
				r.seeded[:], from, from+pageSize-1)
			if err != nil {
				return n, err
			}
			if last, err = checkPage(page, last); err != nil {
				return n, fmt.Errorf("raw read: %w", err)
			}
			n += len(page)
		}
		if n != readEvents {
			return n, fmt.Errorf("raw: read %d events of the stream, expected %d", n, readEvents)
		}
		return n, nil
	}
}

func (r *rawSide) readLog() op {
	return func(ctx context.Context, _ int) (int, error) {
		n := 0
		var page []readEvent
		var after int64
		var err error
		for n < readEvents {
			page, err = r.scan(ctx, page[:0], rawColumns+"WHERE position > ? ORDER BY position LIMIT ?", after, pageSize)
			if err != nil {
				return n, err
			}
			if len(page) == 0 {
				return n, fmt.Errorf("raw: the log ended after %d events, expected at least %d", n, readEvents)
			}
			if after, err = checkPage(page, after); err != nil {
				return n, fmt.Errorf("raw read: %w", err)
			}
			n += len(page)
		}
		return n, nil
	}
}

// scan runs a query of rawColumns, decodes every row into a readEvent, as
// the service side decodes its pages, and returns page with them appended.
func (r *rawSide) scan(ctx context.Context, page []readEvent, query string, args ...any) ([]readEvent, error) {
	rows, err := r.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("raw read: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e readEvent
		var eventID, streamID, data, metadata []byte
		if err := rows.Scan(&e.Position, &eventID, &streamID, &e.Version, &e.StreamType, &e.Type, &data, &metadata, &e.RecordedAt); err != nil {
			return page, fmt.Errorf("raw read: %w", err)
		}
		if e.ID, err = uuid.FromBytes(eventID); err != nil {
			return page, fmt.Errorf("raw read: event id: %w", err)
		}
		if e.StreamID, err = uuid.FromBytes(streamID); err != nil {
			return page, fmt.Errorf("raw read: stream id: %w", err)
		}
		e.Data, e.Metadata = data, metadata
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("raw read: %w", err)
	}
	return page, nil
}
