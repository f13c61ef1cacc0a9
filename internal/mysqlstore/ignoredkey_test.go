package mysqlstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAKeyIgnoredWhileRunningNamesTheStatementThatUsesItAgain: a key the
// log's filtered reads force, made IGNORED while the service runs
// (MariaDB 10.6+; MySQL 8's INVISIBLE), fails them with Error 1176 as a
// dropped one does, and the missing error named only the ALTER TABLE … ADD
// KEY that makes it again, which fails on a key that is there ("Duplicate
// key name"). It now names the ALTER INDEX that has it used again too;
// run, that statement lets the reads pass.
func TestAKeyIgnoredWhileRunningNamesTheStatementThatUsesItAgain(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	db := otherProcessDB(t, dsn)
	if _, err := db.ExecContext(ctx, "ALTER TABLE events ALTER INDEX events_stream_type_position IGNORED"); err != nil {
		t.Fatal(err)
	}
	read := eventstore.ReadAllOptions{Limit: 10, StreamTypes: []string{"a", "b"}}
	_, err := s.ReadAll(ctx, read)
	mend := "ALTER TABLE events ALTER INDEX events_stream_type_position NOT IGNORED"
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), mend) {
		t.Fatalf("a filtered read with its key IGNORED: %v; want the missing error naming the statement that has it used again, %s", err, mend)
	}
	if _, err := db.ExecContext(ctx, mend); err != nil {
		t.Fatalf("the statement the error named: %s: %v", mend, err)
	}
	if _, err := s.ReadAll(ctx, read); err != nil {
		t.Errorf("the filtered read once its key is used again: %v", err)
	}
}
