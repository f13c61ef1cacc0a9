package mysqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestADatabaseDroppedWholeIsSaidSoByEveryPath: with the database dropped
// whole under the service, only the appends (a new session: 1049) said
// "the database … is missing … create it and run `api migrate`"; the
// pooled sessions, whose default database went, met 1146 and said "the
// database's table … is missing … restore the database from a backup": so
// did /readyz (Ping), every read, and the subscriptions' closing frame (the
// feed's read of the log), the harsher remedy for the case README says
// CREATE DATABASE and `api migrate` mend. Every path names the database.
func TestADatabaseDroppedWholeIsSaidSoByEveryPath(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 2)
	// Warm every pool's sessions: reads, the feed's, the primary's.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "DROP DATABASE "+cfg.DBName); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		do   func() error
	}{
		{"Ping (/readyz)", func() error { return s.Ping(ctx) }},
		{"Stream", func() error { _, err := s.Stream(ctx, stream); return err }},
		{"ReadStream", func() error { _, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 10}); return err }},
		{"Event", func() error { _, err := s.Event(ctx, stream, 1); return err }},
		{"ReadAll", func() error { _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); return err }},
		{"ListStreams", func() error { _, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 10}); return err }},
		{"Head", func() error { _, err := s.Head(ctx); return err }},
		{"Append", func() error { _, err := appendOne(ctx, s, stream, eventstore.Exactly(2)); return err }},
	} {
		for range 2 { // a pooled session, then whichever comes next
			err := c.do()
			var missing *eventstore.MissingError
			if !errors.As(err, &missing) || missing.Table != "" || missing.Database != cfg.DBName {
				t.Errorf("%s with the database dropped whole: %v; want the MissingError naming the database, no table", c.what, err)
				break
			}
			if msg := missing.Error(); !strings.Contains(msg, "database "+cfg.DBName+" is missing") || !strings.Contains(msg, "api migrate") {
				t.Errorf("%s with the database dropped whole: %q; want it to say the database is missing, and to create it and run api migrate", c.what, msg)
				break
			}
		}
	}
}

// TestADatabaseDroppedWholeIsSaidSoWhileThePrimarysSessionsAreBusy: the
// look that tells a database dropped whole from a table dropped (is it in
// information_schema's schemata?) asked the pool of 3 sessions the live
// feed, the durability fence and /readyz share, with a bound of its own of
// 5 s: with them all busy (a stalled fence, a burst of probes), it waited
// out its bound and a read said a table was missing, the harsher remedy.
// It looks on a session of its own now.
func TestADatabaseDroppedWholeIsSaidSoWhileThePrimarysSessionsAreBusy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 2)
	if _, err := s.Stream(ctx, stream); err != nil { // a reads' session, pooled
		t.Fatal(err)
	}
	release, err := s.HoldPrimary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "DROP DATABASE "+cfg.DBName); err != nil {
		t.Fatal(err)
	}
	_, err = s.Stream(ctx, stream)
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || missing.Table != "" || missing.Database != cfg.DBName {
		t.Errorf("a read with the database dropped whole and the primary's sessions busy: %v; want the MissingError naming the database, no table", err)
	}
}
