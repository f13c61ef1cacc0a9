package mysqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadThatFindsATableMissingLetsGoOfItsConnectionBeforeItLooksForTheDatabase:
// a read that meets a table missing asks the server, on a session of its
// own, whether the whole database went (databaseGone: one look at a time,
// bounded at 5 s). The read kept its pooled connection through that look
// (its error was translated before its connection was given back): with a
// pool of one, every other read waited behind the look. The connection is
// now given back first: while the look is held, the pool has none in use,
// and another read is served at once.
func TestAReadThatFindsATableMissingLetsGoOfItsConnectionBeforeItLooksForTheDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{MaxConns: 1})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	appendVersions(ctx, t, s, uuid.New(), 1)
	// The list of streams needs the table streams; the head does not.
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "DROP TABLE streams"); err != nil {
		t.Fatal(err)
	}
	held, release := proxy.HoldAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("information_schema.SCHEMATA")) })
	listed := make(chan error, 1)
	go func() {
		_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 10})
		listed <- err
	}()
	select {
	case <-held:
	case err := <-listed:
		t.Fatalf("the list of streams with its table dropped answered %v before it looked for the database; want the look held", err)
	}
	inUse := s.ReadsPool().Stats().InUse
	if inUse != 0 {
		t.Errorf("while the read that found a table missing looks for its database, the read pool has %d connections in use; want none (given back first)", inUse)
	}
	if _, err := s.Head(ctx); err != nil {
		t.Errorf("a read of the head, with a pool of one, while another read looks for its database: %v; want it served", err)
	}
	release()
	var missing *eventstore.MissingError
	if err := <-listed; !errors.As(err, &missing) || missing.Table == "" {
		t.Errorf("the list of streams with its table dropped: %v; want the table named missing", err)
	}
}
