package mysqlstore

// SetBeforeCommit installs a hook that runs inside every append transaction
// just before COMMIT, with the log_head lock held.
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit.Store(&f) }
