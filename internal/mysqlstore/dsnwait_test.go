package mysqlstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestEveryFormOfTheDSNsLockWaitLetsTheReadsWaitOutABriefLock: the
// reads' wait_for_locks is `SET SESSION lock_wait_timeout = <the DSN's
// value>`, in the writer's session, which the writes before it left at 0.
// A value the server takes at connect (the driver's SET) must mean the same
// there.
func TestEveryFormOfTheDSNsLockWaitLetsTheReadsWaitOutABriefLock(t *testing.T) {
	for _, param := range []string{
		"LOCK_WAIT_TIMEOUT=5",
		"lock_wait_timeout=DEFAULT",
		"lock_wait_timeout=%20default%20",
		"lock_wait_timeout=@@GLOBAL.lock_wait_timeout",
		"lock_wait_timeout=@@lock_wait_timeout",
		"lock_wait_timeout=@@session.lock_wait_timeout",
	} {
		for _, readFirst := range []bool{false, true} {
			t.Run(param+map[bool]string{false: "/one round trip", true: "/read first"}[readFirst], func(t *testing.T) {
				ctx, base := guardedTest(t)
				openCounted(t, base) // migrates
				dsn := withParam(base, param)
				s, _ := openCounted(t, dsn)
				x := uuid.New()
				appendVersions(ctx, t, s, x, 2)
				if readFirst {
					s.SetBeforeCommit(func() {})
				}
				db := otherProcessDB(t, base)
				other, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				if _, err := other.ExecContext(ctx, "LOCK TABLES events WRITE"); err != nil {
					t.Fatal(err)
				}
				go func() {
					time.Sleep(300 * time.Millisecond)
					other.ExecContext(ctx, "UNLOCK TABLES") //nolint:errcheck
				}()
				res, err := appendOne(ctx, s, x, eventstore.Exactly(2))
				if err != nil || res.Version != 3 {
					t.Fatalf("DSN %s: append while events was locked for 300 ms: %+v, %v; want version 3", param, res, err)
				}
			})
		}
	}
}
