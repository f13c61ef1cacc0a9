package sqlitestore

import "fmt"

// SetBeforeCommit installs a hook that runs inside every append transaction
// just before COMMIT, with the write lock held.
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit.Store(&f) }

// LimitPages makes the database file unable to grow past its size now plus
// extra pages, as a full disk would.
func (s *Store) LimitPages(extra int) error {
	var pages int
	if err := s.writes.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		return err
	}
	_, err := s.writes.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+extra))
	return err
}
