package mysqlstore

import "context"

// LockHolder is the connection id of the session the store would name as
// the holder of the log's lock (lockHolder), 0 if none.
func (s *Store) LockHolder(ctx context.Context) (int64, error) {
	h, err := s.lockHolder(ctx)
	return h.id, err
}

// AskLockWaitsAsOn has the store look for whom a waiter waits as it would
// on a server of version (lockWaitQueries); set it while no search for the
// holder runs (no append has failed since the store opened).
func (s *Store) AskLockWaitsAsOn(version string) { s.lockWaits = lockWaitQueries(version) }
