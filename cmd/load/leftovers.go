package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// lastResortTimeout bounds what a second interrupt waits for before the
// tool exits: the databases' drops.
const lastResortTimeout = 5 * time.Second

// leftovers is what a run would leave behind if it exited without its
// deferred clean-up: the servers it started, the databases it created and
// its temporary directories. A second interrupt clears them within a bound
// and exits (main), where the first lets the run stop them in order.
type leftovers struct {
	mu      sync.Mutex
	servers []*server
	dbs     []*database
	dirs    []string
}

func (l *leftovers) addServer(s *server) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.servers = append(l.servers, s)
}

func (l *leftovers) addDatabase(d *database) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dbs = append(l.dbs, d)
}

func (l *leftovers) addDir(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirs = append(l.dirs, dir)
}

// clear kills the servers, drops the databases, waiting at most within,
// removes the directories, and says on w what it could not clear. Anything
// that the run cleared already is cleared again harmlessly: a process that
// has been waited for is not signalled, a database is dropped if it exists.
func (l *leftovers) clear(w io.Writer, within time.Duration) {
	l.mu.Lock()
	servers, dbs, dirs := l.servers, l.dbs, l.dirs
	l.mu.Unlock()
	for _, s := range servers {
		s.cmd.Process.Kill() //nolint:errcheck // it may have exited already
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, d := range dbs {
		wg.Go(func() { errs[i] = d.dropOnce(ctx) })
	}
	// A drop stuck past the bound is left to run on the database server.
	waited := make(chan struct{})
	go func() {
		wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
	}
	for i, d := range dbs {
		select {
		case <-waited:
			if errs[i] == nil {
				fmt.Fprintf(w, "load: dropped database %s\n", d.name)
				continue
			}
			fmt.Fprintf(w, "load: %s; drop it by hand: DROP DATABASE %s\n", errs[i].Error(), d.name)
		default:
			fmt.Fprintf(w, "load: database %s not dropped within %s; drop it by hand: DROP DATABASE %s\n", d.name, within, d.name)
		}
	}
	for _, dir := range dirs {
		os.RemoveAll(dir)
	}
}

// dropOnce drops the database over a connection of its own: the run's own
// pool may be busy dropping it too, or closed.
func (d *database) dropOnce(ctx context.Context) error {
	db, err := sql.Open("mysql", d.cfg.FormatDSN())
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}
