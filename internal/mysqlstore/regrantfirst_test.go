package mysqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestTheFirstAppendAfterAGrantIsWrittenOnceRefusalsHaveStopped: with
// INSERT revoked, a refusal ends the sessions opened before it at most once
// each regrantInterval; the writer's sessions opened after that end, and
// refused within the interval, stayed in its pool. Granted INSERT back,
// the first append, however long after, took one of them and was refused
// (503) — only the second was written, though README says a GRANT is
// served again within a second. A session opened before the last refusal
// is not used again once no refusal has come for regrantInterval: the
// first append after the grant, the interval past, is written. The
// store's clock is the test's, moved on by hand. On a private server.
func TestTheFirstAppendAfterAGrantIsWrittenOnceRefusalsHaveStopped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, _, dsn := appUser(t, "regrantfirst")
	s, _ := openCounted(t, dsn)
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SetPrivilegeClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)

	server.Exec(t, "REVOKE INSERT ON regrantfirst.* FROM 'app'@'127.0.0.1'")
	s.NewWriterSessions()     // as their idle bound would: new ones lack INSERT
	for i := 1; i <= 4; i++ { // within one regrantInterval: the first ends the sessions, the others do not
		if _, err := appendOne(ctx, s, stream, eventstore.Exactly(1)); !errors.Is(err, eventstore.ErrRefused) {
			t.Fatalf("append %d with INSERT revoked: %v; want it refused (ErrRefused)", i, err)
		}
	}
	server.Exec(t, "GRANT INSERT ON regrantfirst.* TO 'app'@'127.0.0.1'")
	advance(mysqlstore.RegrantInterval)
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(1)); err != nil {
		t.Errorf("the first append after INSERT was granted back, regrantInterval after the last refusal: %v; want it written", err)
	}
}
