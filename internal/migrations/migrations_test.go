package migrations_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// store is a store opened on a database the test also reads directly.
type store interface {
	eventstore.Store
	Migrate(context.Context) error
	Close() error
}

// TestStreamsKeepTheirVersionsAcrossDroppingStreamsVersionAndBack: a
// database written by the release before (streams.version and updated_at
// kept in every append) is migrated to the schema that derives them from
// each stream's last event. The streams read as they were written and take
// appends at their versions; a row left by a stream whose events were
// removed by hand is not a stream. The migration's Down, which an operator
// rolling the release back runs, puts every stream's version and
// updated_at back from its events (a row without events gets version 0, as
// such a row is read by that release: no stream), and the Up after it
// brings the new release back.
func TestStreamsKeepTheirVersionsAcrossDroppingStreamsVersionAndBack(t *testing.T) {
	t.Parallel()
	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		dsn := mysqltest.NewDatabase(t)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ParseTime, cfg.Loc = true, time.UTC
		raw := openMySQL(t, cfg.FormatDSN())
		exerciseDropStreamsVersion(t, raw, "mysql", func(ctx context.Context) (store, error) {
			return mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		raw, err := sql.Open("sqlite", filepath.Join(dir, sqlitestore.FileName)+"?_pragma=busy_timeout(10000)&_timezone=UTC")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		exerciseDropStreamsVersion(t, raw, "sqlite", func(ctx context.Context) (store, error) {
			return sqlitestore.Open(ctx, dir, sqlitestore.Options{})
		})
	})
}

func exerciseDropStreamsVersion(t *testing.T, raw *sql.DB, dialect string, open func(context.Context) (store, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// The migration that drops streams.version: 00012 of MySQL's, 00010 of
	// SQLite's. Later ones are undone before its Down, and redone after it.
	drop := map[string]int64{"mysql": 12, "sqlite": 10}[dialect]
	before := drop - 1
	if err := migrations.UpTo(ctx, raw, dialect, before); err != nil {
		t.Fatalf("migrate up to %d: %v", before, err)
	}

	// Written as the release before wrote them: A at version 3, B at 1,
	// and C's row, whose events were removed by hand.
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	const event = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at, batch_size) " +
		"VALUES (?, ?, ?, ?, 'order', 'Happened', '{}', ?, ?)"
	for i, e := range []struct {
		stream  uuid.UUID
		version int64
		size    int64
	}{{a, 1, 2}, {a, 2, 0}, {a, 3, 1}, {b, 1, 1}} {
		id := uuid.New()
		exec(event, i+1, id[:], e.stream[:], e.version, at(i+1), e.size)
	}
	const row = "INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at) VALUES (?, 'order', ?, ?, ?)"
	exec(row, a[:], 3, at(1), at(3))
	exec(row, b[:], 1, at(4), at(4))
	exec(row, c[:], 2, at(0), at(0))
	exec("UPDATE log_head SET position = 4, recorded_at = ? WHERE id = 1", at(4))

	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		t.Fatalf("migrate a database with data: %v", err)
	}
	st, err := s.Stream(ctx, a)
	if err != nil || st.Version != 3 || st.Type != "order" || !st.CreatedAt.Equal(at(1)) || !st.UpdatedAt.Equal(at(3)) {
		t.Errorf("stream A after the migration: %+v, %v; want version 3, created %v, updated %v", st, err, at(1), at(3))
	}
	list, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{})
	var listed []uuid.UUID
	for _, st := range list.Streams {
		listed = append(listed, st.ID)
	}
	want := []uuid.UUID{a, b}
	slices.SortFunc(want, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
	if err != nil || !slices.Equal(listed, want) {
		t.Errorf("streams listed after the migration: %v, %v; want A and B, %v", listed, err, want)
	}
	if res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: a, Expected: eventstore.Exactly(3),
		Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil || res.Version != 4 {
		t.Errorf("append to A at version 3: %+v, %v; want version 4", res, err)
	}
	if res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: c, StreamType: "invoice", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil || res.Version != 1 || res.StreamType != "invoice" {
		t.Errorf("append to C, a row without events, as a new stream: %+v, %v; want version 1 of an invoice", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Another row whose events were removed by hand, this time under the new schema.
	exec("INSERT INTO streams (stream_id, stream_type, created_at) VALUES (?, 'order', ?)", d[:], at(0))

	for v := int64(migrations.Latest(dialect)); v > drop; v-- {
		if err := migrations.DownOne(ctx, raw, dialect); err != nil {
			t.Fatalf("the Down of migration %d, after the one that drops streams.version: %v", v, err)
		}
	}
	if err := migrations.DownOne(ctx, raw, dialect); err != nil {
		t.Fatalf("the migration's Down, with a stream row that has no events: %v", err)
	}
	var lastA time.Time
	if err := raw.QueryRowContext(ctx, "SELECT recorded_at FROM events WHERE stream_id = ? AND stream_version = 4", a[:]).Scan(&lastA); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name    string
		id      uuid.UUID
		version int64
		updated time.Time // zero: not checked
	}{{"A", a, 4, lastA}, {"B", b, 1, at(4)}, {"C", c, 1, time.Time{}}, {"D", d, 0, time.Time{}}} {
		var version int64
		var updated sql.NullTime
		if err := raw.QueryRowContext(ctx, "SELECT version, updated_at FROM streams WHERE stream_id = ?", w.id[:]).Scan(&version, &updated); err != nil {
			t.Fatalf("stream %s after Down: %v", w.name, err)
		}
		if version != w.version || !w.updated.IsZero() && !updated.Time.Equal(w.updated) {
			t.Errorf("stream %s after Down: version %d, updated %v; want version %d, updated %v", w.name, version, updated.Time, w.version, w.updated)
		}
	}

	s, err = open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate up again after Down: %v", err)
	}
	if st, err := s.Stream(ctx, a); err != nil || st.Version != 4 {
		t.Errorf("stream A after Down and Up: %+v, %v; want version 4", st, err)
	}
}

// TestASchemaNewerThanTheBinaryIsRefused: a binary rolled back to an
// earlier release, on a database a later one migrated, logged "schema is up
// to date" with its own, older version and served a schema it does not
// know (columns it writes dropped, ones it does not fill added). Migrating
// must fail, naming both versions.
func TestASchemaNewerThanTheBinaryIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dialect string
		open    func(t *testing.T) *sql.DB
		apply   func(context.Context, *sql.DB, *slog.Logger) error
	}{
		{"mysql", func(t *testing.T) *sql.DB {
			db, err := sql.Open("mysql", mysqltest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			return db
		}, migrations.ApplyMySQL},
		{"sqlite", func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), sqlitestore.FileName))
			if err != nil {
				t.Fatal(err)
			}
			return db
		}, migrations.ApplySQLite},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := tc.open(t)
			t.Cleanup(func() { db.Close() })
			log := slog.New(slog.DiscardHandler)
			if err := tc.apply(ctx, db, log); err != nil {
				t.Fatalf("migrate a new database: %v", err)
			}
			next := migrations.Latest(tc.dialect) + 1
			if _, err := db.ExecContext(ctx, "INSERT INTO "+migrations.VersionTable+" (version_id, is_applied) VALUES (?, 1)", next); err != nil {
				t.Fatalf("record version %d as a later release would: %v", next, err)
			}
			err := tc.apply(ctx, db, log)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", next)) ||
				!strings.Contains(err.Error(), fmt.Sprintf("knows up to %d", next-1)) {
				t.Fatalf("migrate a database at schema %d with a binary that knows up to %d: expected an error naming both, got %v", next, next-1, err)
			}
			// It named "that release's migrations" for a roll-back that no
			// command makes: the way back is a backup.
			if !strings.Contains(err.Error(), "restore the backup taken before it first ran") || strings.Contains(err.Error(), "roll the schema back with") {
				t.Errorf("migrate a database a later release migrated: %v; expected it to say to run that release or restore the backup taken before it, not to roll the schema back", err)
			}
		})
	}
}
