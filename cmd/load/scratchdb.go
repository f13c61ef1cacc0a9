package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// database is the temporary database the server uses, and a connection to
// the database server for its status counters.
type database struct {
	name string
	cfg  *mysql.Config // the database server, as -dsn names it

	admin *sql.DB
	conn  *sql.Conn // one session, so its own statements can be subtracted

	mu    sync.Mutex
	other map[int64]string // other clients' connections seen, by id
}

// createDatabase creates a uniquely named, empty database on the server dsn
// names (its database part is ignored).
func createDatabase(ctx context.Context, dsn string) (*database, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Addr, err)
	}
	admin.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := admin.Conn(ctx)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to %s (-dsn): %w", cfg.Addr, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "load_" + hex.EncodeToString(b[:])
	// A database name cannot be a placeholder; this one is made of hex digits here.
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		conn.Close()
		admin.Close()
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return &database{name: name, cfg: cfg, admin: admin, conn: conn, other: make(map[int64]string)}, nil
}

// dsn returns the DSN for the server under test: this database.
func (d *database) dsn() string {
	cfg := d.cfg.Clone()
	cfg.DBName = d.name
	return cfg.FormatDSN()
}

// drop drops the database and closes the connections. It does not depend on
// the run's context, so it also runs after Ctrl-C.
func (d *database) drop() error {
	defer d.admin.Close()
	d.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}

// dbCounts are the database server's cumulative statement counts at one
// moment, every client's.
type dbCounts struct {
	at         time.Time
	statements int64 // every statement (Questions)
	selects    int64 // SELECTs (Com_select)
}

// counters reads the database server's global status and subtracts this
// session's, which leaves every other client's statements.
func (d *database) counters(ctx context.Context) (dbCounts, error) {
	c := dbCounts{at: time.Now()}
	g, err := d.status(ctx, "GLOBAL")
	if err != nil {
		return c, err
	}
	s, err := d.status(ctx, "SESSION")
	if err != nil {
		return c, err
	}
	c.statements = g["Questions"] - s["Questions"]
	c.selects = g["Com_select"] - s["Com_select"]
	return c, nil
}

func (d *database) status(ctx context.Context, scope string) (map[string]int64, error) {
	rows, err := d.conn.QueryContext(ctx, "SHOW "+scope+" STATUS WHERE Variable_name IN ('Questions', 'Com_select')")
	if err != nil {
		return nil, fmt.Errorf("read the database server's %s status: %w", scope, err)
	}
	defer rows.Close()
	m := make(map[string]int64, 2)
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("read the database server's %s status: %w", scope, err)
		}
		m[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the database server's %s status: %w", scope, err)
	}
	if len(m) != 2 {
		return nil, fmt.Errorf("the database server's %s status lacks Questions or Com_select: %v", scope, m)
	}
	return m, nil
}

// noteOtherClients records the connections of other clients of the database
// server: their statements are in the global counters too.
func (d *database) noteOtherClients(ctx context.Context) error {
	rows, err := d.conn.QueryContext(ctx, `SELECT ID, USER, HOST, COALESCE(DB, '') FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon' AND USER NOT IN ('system user', 'event_scheduler')`)
	if err != nil {
		return fmt.Errorf("list the database server's connections: %w", err)
	}
	defer rows.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for rows.Next() {
		var id int64
		var user, host, db string
		if err := rows.Scan(&id, &user, &host, &db); err != nil {
			return fmt.Errorf("list the database server's connections: %w", err)
		}
		if db != d.name {
			d.other[id] = fmt.Sprintf("#%d %s@%s db=%q", id, user, host, db)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the database server's connections: %w", err)
	}
	return nil
}

// others lists the other clients' connections seen, sorted.
func (d *database) others() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Values(d.other))
}
