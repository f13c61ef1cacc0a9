package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAPrivilegeGrantedBackServesAgainWhileRequestsKeepComing: MariaDB
// (and MySQL) apply a database's privileges to a session only when it
// opens (or at its next USE). Sessions the pools opened while INSERT, or
// SELECT, was revoked kept being refused after the operator granted it
// back, for as long as requests kept them from idling: appends, or reads,
// stayed 503 "refused" on a busy instance until a restart, though the
// error says to grant it again. And with SELECT revoked, reads were 503
// while Ping (/readyz), on sessions opened before the REVOKE, passed. A
// session that met a privilege refusal is not reused, nor are the others
// opened before it: the next request's new session sees the grant, and
// Ping sees the refusal that reads meet.
func TestAPrivilegeGrantedBackServesAgainWhileRequestsKeepComing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, _, dsn := appUser(t, "regrant")
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	version := int64(1)

	server.Exec(t, "REVOKE INSERT ON regrant.* FROM 'app'@'127.0.0.1'")
	s.NewWriterSessions() // as their idle bound would: new ones lack INSERT
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(version)); !errors.Is(err, eventstore.ErrRefused) {
		t.Fatalf("an append on a new session with INSERT revoked: %v; want it refused (ErrRefused)", err)
	}
	server.Exec(t, "GRANT INSERT ON regrant.* TO 'app'@'127.0.0.1'")
	refused := 0
	for {
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(version))
		if err == nil {
			version++
			break
		}
		if refused++; !errors.Is(err, eventstore.ErrRefused) || refused > 1 {
			t.Fatalf("append %d after INSERT was granted back, one after the other: %v; want it written, after at most one more refused", refused, err)
		}
	}

	// Reads: the clients' pool makes a new session, which lacks SELECT,
	// while the primary's (Ping's) were opened before the REVOKE.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	server.Exec(t, "REVOKE SELECT ON regrant.* FROM 'app'@'127.0.0.1'")
	if err := s.NewReadsSession(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrRefused) {
		t.Fatalf("a read on a new session with SELECT revoked: %v; want it refused (ErrRefused)", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrRefused) {
		t.Errorf("Ping (/readyz) once reads are refused SELECT: %v; want it refused too", err)
	}
	server.Exec(t, "GRANT SELECT ON regrant.* TO 'app'@'127.0.0.1'")
	refused = 0
	for {
		_, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
		if err == nil {
			break
		}
		if refused++; !errors.Is(err, eventstore.ErrRefused) || refused > 1 {
			t.Fatalf("read %d after SELECT was granted back, one after the other: %v; want it answered, after at most one more refused", refused, err)
		}
	}
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(version)); err != nil {
		t.Errorf("an append once SELECT is granted back: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once SELECT is granted back: %v", err)
	}
}
