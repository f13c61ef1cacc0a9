package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAStandingPrivilegeRefusalDoesNotOpenASessionPerRequest: while a
// privilege stayed revoked, each refusal ended every session opened
// before it (so that a GRANT is seen, regrant.go), the new session's
// among them: each request opened a new session, and met the refusal on
// it, connection churn for as long as the operator took. The same
// refusal ends the sessions at most once each RegrantInterval: the
// requests meanwhile are refused on the sessions there are. Once it is
// granted back, the first request refused after that interval ends them,
// and the next one is written. The store's clock stands still here, so
// that only the count of refusals decides; the private server's
// Connections status counts the sessions opened.
func TestAStandingPrivilegeRefusalDoesNotOpenASessionPerRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "churn")
	s, _ := openCounted(t, dsn)
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SetPrivilegeClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)

	status, err := sql.Open("mysql", root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { status.Close() })
	status.SetMaxOpenConns(1) // one session of its own, opened once
	connections := func() int64 {
		t.Helper()
		var name string
		var n int64
		if err := status.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Connections'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	connections()

	server.Exec(t, "REVOKE INSERT ON churn.* FROM 'app'@'127.0.0.1'")
	s.NewWriterSessions() // as their idle bound would: new ones lack INSERT
	const requests = 20
	before := connections()
	for i := range requests {
		if _, err := appendOne(ctx, s, stream, eventstore.Exactly(1)); !errors.Is(err, eventstore.ErrRefused) {
			t.Fatalf("append %d with INSERT revoked: %v; want it refused (ErrRefused)", i+1, err)
		}
	}
	// The first refusal ends the sessions opened before it (the writer's
	// and its helpers'); the rest reuse the new ones.
	opened := connections() - before
	t.Logf("opened %d", opened)
	if opened > 5 {
		t.Errorf("%d appends refused INSERT, one after the other, within one interval: %d sessions opened; want a few, not one a request", requests, opened)
	}

	server.Exec(t, "GRANT INSERT ON churn.* TO 'app'@'127.0.0.1'")
	advance(mysqlstore.RegrantInterval)
	refused := 0
	for {
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
		if err == nil {
			break
		}
		if refused++; !errors.Is(err, eventstore.ErrRefused) || refused > 1 {
			t.Fatalf("append %d after INSERT was granted back and the interval passed: %v; want it written, after at most one more refused", refused, err)
		}
	}
}
