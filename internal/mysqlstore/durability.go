package mysqlstore

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotDurable is returned by Open when the server's settings let an
// acknowledged append be lost in a crash.
var ErrNotDurable = errors.New("the database does not make commits durable")

// durability is what the server's settings mean for acknowledged writes.
type durability struct {
	flushAtCommit int64 // innodb_flush_log_at_trx_commit
	logBin        bool
	syncBinlog    int64
}

// unsafe explains why an acknowledged commit could be lost, or is "".
func (d durability) unsafe() string {
	switch {
	case d.flushAtCommit != 1:
		return fmt.Sprintf("innodb_flush_log_at_trx_commit is %d, not 1: InnoDB does not flush its log at each commit", d.flushAtCommit)
	case d.logBin && d.syncBinlog != 1:
		return fmt.Sprintf("the binary log is on and sync_binlog is %d, not 1: a crash can drop committed transactions from it, and recovery then rolls them back", d.syncBinlog)
	}
	return ""
}

func (s *Store) readDurability(ctx context.Context) (durability, error) {
	var d durability
	var logBin int64
	err := s.feed.QueryRowContext(ctx, "SELECT @@innodb_flush_log_at_trx_commit, @@log_bin, @@sync_binlog").Scan(&d.flushAtCommit, &logBin, &d.syncBinlog)
	if err != nil {
		return durability{}, fmt.Errorf("read durability settings: %w", translate(err))
	}
	d.logBin = logBin == 1
	return d, nil
}

// waitDurable returns once every commit up to position, which the caller has
// seen, is on disk.
//
// With the binary log off, InnoDB makes a commit visible to other readers a
// moment before it has flushed it, so a reader could show an event that a
// crash then takes back, and its position be reused. A commit of our own
// fixes that: its flush covers every earlier entry of the log, since the redo
// log is flushed in order. With the binary log on, a commit is visible only
// after it is durable, and this does nothing.
//
// Positions are durable in order, so one fence answers every caller whose
// position it had seen: fences run one at a time, and a caller that finds
// its position covered by the last one returns without another.
func (s *Store) waitDurable(ctx context.Context, position int64) error {
	if !s.fence || position <= s.durable.Load() {
		return nil
	}
	select {
	case s.fencing <- struct{}{}:
		defer func() { <-s.fencing }()
	case <-ctx.Done():
		return fmt.Errorf("wait for durability: %w", ctx.Err())
	}
	if position <= s.durable.Load() {
		return nil
	}
	s.m.Statement("fence")
	if _, err := s.feed.ExecContext(ctx, "UPDATE durability_fence SET counter = counter + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("wait for durability: %w", translate(err))
	}
	s.durableUpTo(position)
	return nil
}

// durableUpTo records that every commit up to position is on disk: a fence
// returned, or a COMMIT of this store's writer did (its flush covers every
// earlier commit, and commits are in position order). The live feed then
// needs no fence for what this process wrote.
func (s *Store) durableUpTo(position int64) {
	for {
		d := s.durable.Load()
		if position <= d || s.durable.CompareAndSwap(d, position) {
			return
		}
	}
}
