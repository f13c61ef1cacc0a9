package sqlitestore

// SetBeforeCommit installs a hook that runs inside every append transaction
// just before COMMIT, with the write lock held.
func (s *Store) SetBeforeCommit(f func()) { s.writer.BeforeCommit = f }
