package mysqlstore_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// schema11Streams is schema 11's streams table, which kept each stream's
// version and updated_at, under another name: the shape benchmarks time
// what its upsert cost every append, beside what the writer sends now.
const schema11Streams = "CREATE TABLE streams_schema11 (stream_id BINARY(16) NOT NULL, stream_type VARCHAR(128) NOT NULL, version BIGINT NOT NULL, " +
	"created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL, PRIMARY KEY (stream_id), KEY streams_type_id (stream_type, stream_id)) " +
	"ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"

// BenchmarkTransactionShape times, in the database alone (no HTTP, no
// writer), the shapes an append of one event can take on the service's own
// schema, with the writer's session settings (READ COMMITTED, statement
// batches, interpolated values), one connection, one client: what a single
// client's append costs at the least, against the raw auto-committed INSERT
// that load compare measures. The shapes run interleaved, and each one's
// median is reported, in µs and as a ratio to raw. docs/performance.md has
// the figures.
//
//	go test -run '^$' -bench TransactionShape -count 5 ./internal/mysqlstore/
func BenchmarkTransactionShape(b *testing.B) {
	db := shapeDB(b)
	const (
		insert = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) " +
			"VALUES (?, ?, ?, ?, 'order', 'ItemAdded', ?, NULL, ?, 1)"
		head  = "UPDATE log_head SET position = ?, recorded_at = ? WHERE id = 1"
		reads = "START TRANSACTION; SELECT position, recorded_at, SYSDATE(6) FROM log_head WHERE id = 1 FOR UPDATE; " +
			"(SELECT s.stream_id, s.stream_type, s.created_at, e.stream_version FROM streams s JOIN events e ON e.stream_id = s.stream_id " +
			"WHERE s.stream_id = ? ORDER BY e.stream_version DESC LIMIT 1 FOR UPDATE)"
		guardedInsert = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) " +
			"VALUES (?, ?, ?, ?, 'order', 'ItemAdded', ?, NULL, @tributary_now, 1)"
		guardedHead = "UPDATE log_head SET position = ?, commit_id = ?, recorded_at = @tributary_now WHERE id = 1"
	)
	if _, err := db.Exec(schema11Streams); err != nil {
		b.Fatal(err)
	}
	var position int64
	data := []byte(benchData)
	id := func() []byte { u := uuid.New(); return u[:] }
	last := id()        // the event at the head, for the guarded shape's guard
	var previous []byte // the event before the one without a head row
	shapes := []struct {
		name    string
		run     func(stream []byte, version int64, now time.Time) error
		before  string       // run first, untimed, with the position before this shape's
		prepare func() error // run first, untimed, with position at this shape's
	}{
		// What load compare's raw side does.
		{"raw_insert", func(stream []byte, version int64, now time.Time) error {
			_, err := db.Exec(insert, position, id(), stream, version, data, now)
			return err
		}, "", nil},
		// What the service does for a group that reads first: its reads
		// (the stream's version from its last event), then its writes and
		// COMMIT. An append to a stream that exists writes no streams row.
		{"service_two_round_trips", func(stream []byte, version int64, now time.Time) error {
			if err := queryAll(db, reads, stream); err != nil {
				return err
			}
			_, err := db.Exec(insert+"; "+head+"; COMMIT", position, id(), stream, version, data, now, position, now)
			return err
		}, "", nil},
		// What the service sends on MariaDB for a group whose stream its
		// writer knows (sqlstore/guarded.go): the whole transaction in one
		// round trip, the head's UPDATE also the lock and the guard, the
		// event stamped from a session variable, read back just before COMMIT.
		{"service_one_round_trip", func(stream []byte, version int64, now time.Time) error {
			e := id()
			err := queryAll(db, mysqlstore.GuardedSet+"; START TRANSACTION; "+mysqlstore.GuardedHead+"; "+
				guardedInsert+"; "+mysqlstore.CommitTime+"; COMMIT",
				position, e, position-1, last, position, e, stream, version, data)
			last = e
			return err
		}, "UPDATE log_head SET position = ?, commit_id = ? WHERE id = 1", nil},
		// The same with schema 11's upsert of the stream's version (into a
		// copy of its streams table): what every append wrote before a
		// stream's version was its last event's.
		{"schema11_one_round_trip", func(stream []byte, version int64, now time.Time) error {
			e := id()
			err := queryAll(db, mysqlstore.GuardedSet+"; START TRANSACTION; "+mysqlstore.GuardedHead+"; "+
				guardedInsert+"; INSERT INTO streams_schema11 (stream_id, stream_type, version, created_at, updated_at) VALUES (?, 'order', ?, @tributary_now, @tributary_now) "+
				"ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = VALUES(updated_at); "+mysqlstore.CommitTime+"; COMMIT",
				position, e, position-1, last, position, e, stream, version, data, stream, version)
			last = e
			return err
		}, "UPDATE log_head SET position = ?, commit_id = ? WHERE id = 1", nil},
		// What it sends on MySQL: a locking read as the guard, and the
		// head's UPDATE with the writes.
		{"select_guard_one_round_trip", func(stream []byte, version int64, now time.Time) error {
			e := id()
			err := queryAll(db, mysqlstore.GuardedSet+"; START TRANSACTION; "+mysqlstore.GuardedLockHead+"; "+
				guardedInsert+"; "+guardedHead+"; COMMIT",
				position-1, last, position, e, stream, version, data, position, e)
			last = e
			return err
		}, "UPDATE log_head SET position = ?, commit_id = ? WHERE id = 1", nil},
		// The lock, the insert and the head in one round trip, with no
		// check between reading and writing: the least a one-round-trip
		// append that keeps log_head could cost.
		{"all_in_one_round_trip", func(stream []byte, version int64, now time.Time) error {
			_, err := db.Exec("START TRANSACTION; SELECT position FROM log_head WHERE id = 1 FOR UPDATE; "+insert+"; "+head+"; COMMIT",
				position, id(), stream, version, data, now, position, now)
			return err
		}, "", nil},
		// The service's one round trip without the session's SET (the
		// lock timeouts set once on the connection, the time variable not
		// cleared): what the statement costs.
		{"service_without_set", func(stream []byte, version int64, now time.Time) error {
			e := id()
			err := queryAll(db, "START TRANSACTION; "+mysqlstore.GuardedHead+"; "+guardedInsert+"; "+mysqlstore.CommitTime+"; COMMIT",
				position, e, position-1, last, position, e, stream, version, data)
			last = e
			return err
		}, "UPDATE log_head SET position = ?, commit_id = ? WHERE id = 1", nil},
		// A design with no log_head row, for a stream the writer knows: one
		// auto-committed INSERT … SELECT that writes the event only if the
		// one before it is where the writer left it (its position and id),
		// and stamps it no earlier than that one. The primary key on
		// position orders commits (position n+1 can be written only once n
		// is committed, and a rival writing n+1 meets its lock or its
		// duplicate key). Not what the service does: a sketch of the
		// schema change docs/performance.md measures.
		{"no_head_row_one_statement", func(stream []byte, version int64, now time.Time) error {
			_, err := db.Exec("INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) "+
				"SELECT ?, ?, ?, ?, 'order', 'ItemAdded', ?, NULL, GREATEST(SYSDATE(6), p.recorded_at), 1 FROM events p WHERE p.position = ? AND p.event_id = ?",
				position, id(), stream, version, data, position-1, previous)
			return err
		}, "", func() error {
			// The event before it, under the writer's eyes: one of its own.
			previous = id()
			other := id()
			_, err := db.Exec(insert, position, previous, other, 1, data, time.Now().UTC())
			position++
			return err
		}},
		// Less and less of it.
		{"insert_and_head", func(stream []byte, version int64, now time.Time) error {
			_, err := db.Exec("START TRANSACTION; "+insert+"; "+head+"; COMMIT", position, id(), stream, version, data, now, position, now)
			return err
		}, "", nil},
		{"insert_in_a_transaction", func(stream []byte, version int64, now time.Time) error {
			_, err := db.Exec("START TRANSACTION; "+insert+"; COMMIT", position, id(), stream, version, data, now)
			return err
		}, "", nil},
	}
	// Interleaved: each iteration runs every shape once, so that all see the
	// same machine; each shape's median is reported, and its ratio to raw.
	streams := make([][]byte, len(shapes))
	for i := range streams {
		streams[i] = id()
		// The streams exist, as an aggregate's does when it is appended to
		// again and again.
		if _, err := db.Exec("INSERT INTO streams VALUES (?, 'order', NOW(6))", streams[i]); err != nil {
			b.Fatal(err)
		}
	}
	took := make([][]time.Duration, len(shapes))
	for version := int64(1); b.Loop(); version++ {
		for i, sh := range shapes {
			if sh.before != "" {
				if _, err := db.Exec(sh.before, position, last); err != nil {
					b.Fatal(err)
				}
			}
			position++
			if sh.prepare != nil {
				if err := sh.prepare(); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			if err := sh.run(streams[i], version, start.UTC()); err != nil {
				b.Fatalf("%s: %v", sh.name, err)
			}
			took[i] = append(took[i], time.Since(start))
		}
	}
	raw := median(took[0])
	for i, sh := range shapes {
		m := median(took[i])
		b.ReportMetric(float64(m.Microseconds()), sh.name+"_µs")
		if i > 0 {
			b.ReportMetric(float64(m)/float64(raw), sh.name+"_÷raw")
		}
	}
	b.ReportMetric(0, "ns/op") // one op is all the shapes: not a figure to read
}

// shapeDB opens and migrates a database of its own with the writer's
// session settings (READ COMMITTED, strict, UTC, statement batches,
// interpolated values), on one connection.
func shapeDB(b *testing.B) *sql.DB {
	db := mysqltest.NewMigratedDB(b, func(cfg *mysql.Config) {
		cfg.MultiStatements, cfg.InterpolateParams, cfg.ParseTime = true, true, true
		cfg.Params = map[string]string{"tx_isolation": "'READ-COMMITTED'", "time_zone": "'+00:00'", "sql_mode": "'STRICT_TRANS_TABLES'"}
	})
	db.SetMaxOpenConns(1)
	return db
}

// queryAll runs a multi-statement query and reads every result set.
func queryAll(db *sql.DB, query string, args ...any) error {
	rows, err := db.Query(query, args...)
	if err != nil {
		return err
	}
	for more := true; more; more = rows.NextResultSet() {
		for rows.Next() {
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkGroupShape times, in the database alone, what the writer sends
// for a group of n single-event appends to n streams it knows (one round
// trip: the session's SET, BEGIN, the guard, the events' INSERT, COMMIT,
// the time read back), for groups of 1, 4, 8 and 16, interleaved, on one
// connection: how little a group's cost grows with its size, which is why
// the writer lingers for the appends it expects (sqlstore/writer.go). Each
// size's median is reported per group and per append; and, interleaved with
// them, the same groups with schema 11's upsert of every stream's version
// (into a copy of its streams table), which the writer sent before a
// stream's version was its last event's.
//
//	go test -run '^$' -bench GroupShape -benchtime 500x ./internal/mysqlstore/
func BenchmarkGroupShape(b *testing.B) {
	db := shapeDB(b)
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil || !strings.Contains(version, "MariaDB") {
		b.Skipf("the UPDATE guard is MariaDB's; this server is %q (%v)", version, err)
	}
	if _, err := db.Exec(schema11Streams); err != nil {
		b.Fatal(err)
	}
	type shape struct {
		n        int
		schema11 bool
		streams  [][]byte
		took     []time.Duration
	}
	var shapes []*shape
	for _, n := range []int{1, 4, 8, 16} {
		for _, old := range []bool{false, true} {
			sh := &shape{n: n, schema11: old}
			for range n {
				s := uuid.New()
				sh.streams = append(sh.streams, s[:])
				if _, err := db.Exec("INSERT INTO streams VALUES (?, 'order', NOW(6))", s[:]); err != nil {
					b.Fatal(err)
				}
			}
			shapes = append(shapes, sh)
		}
	}
	data := []byte(benchData)
	var head int64
	commit := uuid.New()
	if _, err := db.Exec("UPDATE log_head SET position = 0, commit_id = ? WHERE id = 1", commit[:]); err != nil {
		b.Fatal(err)
	}
	for version := int64(1); b.Loop(); version++ {
		for _, sh := range shapes {
			next := uuid.New()
			args := []any{head + int64(sh.n), next[:], head, commit[:]}
			var events, upsert strings.Builder
			for j, s := range sh.streams {
				if j > 0 {
					events.WriteString(", ")
					upsert.WriteString(", ")
				}
				events.WriteString("(?, ?, ?, ?, 'order', 'ItemAdded', ?, NULL, @tributary_now, ?)")
				upsert.WriteString("(?, 'order', ?, @tributary_now, @tributary_now)")
				e := uuid.New()
				args = append(args, head+int64(j)+1, e[:], s, version, data, 1)
			}
			query := mysqlstore.GuardedSet + "; START TRANSACTION; " + mysqlstore.GuardedHead + "; " +
				"INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) VALUES " +
				events.String() + "; "
			if sh.schema11 {
				query += "INSERT INTO streams_schema11 (stream_id, stream_type, version, created_at, updated_at) VALUES " + upsert.String() +
					" ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = VALUES(updated_at); "
				for _, s := range sh.streams {
					args = append(args, s, version)
				}
			}
			query += mysqlstore.CommitTime + "; COMMIT"
			start := time.Now()
			if err := queryAll(db, query, args...); err != nil {
				b.Fatalf("group of %d: %v", sh.n, err)
			}
			sh.took = append(sh.took, time.Since(start))
			head, commit = head+int64(sh.n), next
		}
	}
	for _, sh := range shapes {
		name := fmt.Sprintf("group_of_%02d", sh.n)
		if sh.schema11 {
			name = "schema11_" + name
		}
		m := median(sh.took)
		b.ReportMetric(float64(m.Microseconds()), name+"_µs")
		b.ReportMetric(float64(m.Microseconds())/float64(sh.n), name+"_µs/append")
	}
	b.ReportMetric(0, "ns/op") // one op is all the sizes: not a figure to read
}
