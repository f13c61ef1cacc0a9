package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestWritesToAReadOnlyServerAreUnavailable: a primary made read-only (a
// switchover: the old primary is set read_only before the replica is
// promoted and the DSN's name moves to it) refuses every write with error
// 1290, which the store passed on untranslated: an append, and a read that
// waits for a fence (binary log off), failed as the service's own fault, a
// 500 "internal error", rather than the database's passing trouble, a 503
// with Retry-After. On a private server, with a user that read_only binds
// (root holds READ ONLY ADMIN, which it does not).
func TestWritesToAReadOnlyServerAreUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "readonly") // with its grant tables, for a user without the privilege
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)

	server.Exec(t, "SET GLOBAL read_only = 1")
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("an append to a read-only server: %v; want an error wrapping ErrUnavailable", err)
	}
	if s.Fences() {
		// Another process's commit, newer than any fence of s's.
		other, _ := openCounted(t, root)
		appendVersions(ctx, t, other, uuid.New(), 1)
		if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("a read that waits for a fence on a read-only server: %v; want an error wrapping ErrUnavailable", err)
		}
	}

	// A store opened and migrated on the read-only server (its schema
	// there) starts, as it did before start-up checked its user's writes.
	started, _ := openCounted(t, dsn)
	started.Close()

	server.Exec(t, "SET GLOBAL read_only = 0")
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(1)); err != nil {
		t.Errorf("an append once the server takes writes again: %v", err)
	}
}
