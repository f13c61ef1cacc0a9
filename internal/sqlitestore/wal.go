package sqlitestore

import (
	"context"
	"strconv"
	"time"
)

// SQLite's checkpoint after a commit (every 1,000 pages of WAL) copies the
// WAL's pages into the database file, but starts the WAL again from its
// beginning only at a commit when no reader is using it. Reads that overlap
// without a pause (subscribers catching up, clients paging the log: each
// read is short, but one always runs) never leave such a moment, and the WAL
// grew by every page every commit wrote, without bound: the disk, and each
// read's search of the WAL's index. So past a size the store asks SQLite for
// a checkpoint that waits a moment (walWait) for the readers of the WAL to
// finish, new readers reading the database file meanwhile, and truncates it.

// defaultWALLimit is the WAL's size past which the store restarts it. SQLite's
// own checkpoints keep it near 4 MiB where readers pause.
const defaultWALLimit = 64 << 20

// walWait bounds how long a restart waits for the WAL's readers to finish,
// and so how long it holds up appends (it takes SQLite's write lock first):
// a read that takes longer is left to finish, and the restart is tried
// again walRetry later, twice as long after each that waited in vain, up
// to walRetryMax: a statement that reads for many seconds (up to the read
// timeout) holds appends up a little, not a quarter of the time.
const (
	walWait     = 250 * time.Millisecond
	walRetry    = time.Second
	walRetryMax = 32 * time.Second
)

// checkWALSize asks restartWAL for a restart if the WAL is past its limit.
// It runs after each commit, on the writer's goroutine: a stat of the
// descriptor the store holds, no wait.
func (s *Store) checkWALSize() {
	if s.walFull == nil {
		return
	}
	if fi, err := s.wal.Stat(); err == nil && fi.Size() > s.walLimit {
		select {
		case s.walFull <- struct{}{}:
		default: // one is asked for already
		}
	}
}

// restartWAL runs, until walStop is closed, the restarts checkWALSize asks
// for, on the connection the store keeps open (see keepWAL), waiting
// longer after each that readers held up (see walRetry).
func (s *Store) restartWAL() {
	defer close(s.walDone)
	ctx := context.Background() // interrupted, the driver would drop the kept connection
	if _, err := s.kept.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(walWait.Milliseconds(), 10)); err != nil {
		s.log.Warn("the WAL's restarts are off: could not set their wait", "path", s.path, "error", err.Error())
		return
	}
	retry := walRetry
	for {
		select {
		case <-s.walStop:
			return
		case <-s.walFull:
		}
		var busy, frames, copied int64
		// A TRUNCATE that does not get SQLite's write lock within walWait
		// (the writer holds it group after group) is run by SQLite as a
		// PASSIVE checkpoint beside the writer's groups: it writes the file
		// page by page, for as long as copying the WAL takes, while the
		// record of the WAL index says nothing new. The look for a copy over
		// the file took those writes for one, and refused appends and reads
		// as "overwritten". So while it runs (restarting) the writer's look
		// finds only a file that went back (lookBesideRestart), and the
		// file's state after it is the next look's.
		s.restarting.Lock()
		s.restarts.Add(1)
		err := s.kept.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
		s.noteCheckpoint()
		s.restarting.Unlock()
		switch {
		case err != nil:
			s.log.Warn("could not restart the WAL", "path", s.path, "error", translate(err).Error())
		case busy != 0:
			s.log.Debug("the WAL's restart waited for its readers in vain; trying again later", "path", s.path, "frames", frames, "copied", copied, "in", retry)
		default:
			retry = walRetry
			continue
		}
		select {
		case <-s.walStop:
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, walRetryMax)
	}
}
