package mysqlstore

import (
	"strings"
	"testing"
)

// TestTheLockWaitTablesAskedFirstAreTheServersOwn: whom a session waiting
// for the log's lock waits for is in information_schema.INNODB_LOCK_WAITS
// on MariaDB and MySQL before 8.0, and in performance_schema.data_lock_waits
// on MySQL 8.0 and later, which removed the former: there the store always
// fell back on naming the oldest transaction that holds locks, which may
// be one that only waited. Each server has its own asked first, and the
// other after it (a version a proxy reports may not be its server's).
// (No MySQL 8.0 server is at hand: the query on data_lock_waits has not
// run on one; on MariaDB it falls back, TestTheLockHolderNamedIsTheOneAWaiterOnTheLogsLockWaitsFor.)
func TestTheLockWaitTablesAskedFirstAreTheServersOwn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ version, first string }{
		{"10.11.6-MariaDB-0+deb12u1", "INNODB_LOCK_WAITS"},
		{"5.5.5-10.11.6-MariaDB", "INNODB_LOCK_WAITS"},
		{"11.4.2-MariaDB", "INNODB_LOCK_WAITS"},
		{"5.7.44-log", "INNODB_LOCK_WAITS"},
		{"8.0.36", "data_lock_waits"},
		{"8.4.0-commercial", "data_lock_waits"},
		{"9.1.0", "data_lock_waits"},
		{"not a version", "INNODB_LOCK_WAITS"},
	} {
		queries := lockWaitQueries(c.version)
		if len(queries) != 2 || !strings.Contains(queries[0].query, c.first) ||
			!strings.Contains(queries[0].query+queries[1].query, "INNODB_LOCK_WAITS") || !strings.Contains(queries[0].query+queries[1].query, "data_lock_waits") {
			t.Errorf("a server of version %q asks for whom a waiter waits first in %v; want %s first, then the other table", c.version, queries, c.first)
		}
	}
}
