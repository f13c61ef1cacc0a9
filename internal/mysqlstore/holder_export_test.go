package mysqlstore

import "context"

// LockHolder is the connection id of the session the store would name as
// the holder of the log's lock (lockHolder), 0 if none.
func (s *Store) LockHolder(ctx context.Context) (int64, error) {
	h, err := s.lockHolder(ctx)
	return h.id, err
}
