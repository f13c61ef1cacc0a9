package mysqlstore_test

import "testing"

// TestEveryFormOfTheDSNsLockWaitLetsTheReadsWaitOutABriefLock: the reads'
// wait_for_locks sets the waits a new writer session has, read once at Open,
// in the writer's session, which the writes before it left at 0. A form of
// the DSN's lock_wait_timeout that names the session's own value must not
// make the reads refuse (found by a review, when the DSN's text was copied).
func TestEveryFormOfTheDSNsLockWaitLetsTheReadsWaitOutABriefLock(t *testing.T) {
	for _, param := range []string{
		"LOCK_WAIT_TIMEOUT=5",
		"lock_wait_timeout=DEFAULT",
		"lock_wait_timeout=%20default%20",
		"lock_wait_timeout=@@GLOBAL.lock_wait_timeout",
		"lock_wait_timeout=@@lock_wait_timeout",
		"lock_wait_timeout=@@session.lock_wait_timeout",
	} {
		t.Run(param, func(t *testing.T) {
			withEventsLocked(t, param, appendWaitsOutABriefLock)
		})
	}
}
