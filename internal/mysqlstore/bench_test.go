package mysqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// BenchmarkStore runs the store benchmarks every store shares (storetest);
// the Raw benchmarks are their baseline: the same work straight through the
// driver, as single auto-committed INSERTs into an AUTO_INCREMENT table, which
// is what a store does that lets the database order the log (and so can skip
// events). docs/performance.md has the figures.

const benchData = storetest.BenchData

// BenchmarkStore runs the suite's store benchmarks on MySQL.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, teststore.MySQL.Open)
}

func BenchmarkRawInsertParallel(b *testing.B) {
	db := rawDB(b)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := uuid.New()
		for v := int64(1); pb.Next(); v++ {
			id := uuid.New()
			_, err := db.Exec("INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, data) VALUES (?, ?, ?, ?, ?)",
				id[:], stream[:], v, "ItemAdded", []byte(benchData))
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRawInsertSerial(b *testing.B) {
	db := rawDB(b)
	stream := uuid.New()
	b.ResetTimer()
	for v := int64(1); v <= int64(b.N); v++ {
		id := uuid.New()
		if _, err := db.Exec("INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, data) VALUES (?, ?, ?, ?, ?)",
			id[:], stream[:], v, "ItemAdded", []byte(benchData)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawReadStreamPage(b *testing.B) {
	db := rawDB(b)
	stream := uuid.New()
	for v := 1; v <= 1000; v++ {
		id := uuid.New()
		if _, err := db.Exec("INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, data) VALUES (?, ?, ?, ?, ?)",
			id[:], stream[:], v, "ItemAdded", []byte(benchData)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		rows, err := db.Query("SELECT position, event_id, stream_id, stream_version, event_type, data, recorded_at FROM raw_events WHERE stream_id = ? AND stream_version BETWEEN 1 AND 1000 ORDER BY stream_version", stream[:])
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var pos, ver int64
			var eid, sid, data []byte
			var typ string
			var at sql.NullTime
			if err := rows.Scan(&pos, &eid, &sid, &ver, &typ, &data, &at); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != 1000 {
			b.Fatalf("raw read: %d rows, %v", n, err)
		}
		rows.Close()
	}
}

// rawDB is a database with an events table as a naive store would have it.
func rawDB(b *testing.B) *sql.DB {
	b.Helper()
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ParseTime, cfg.InterpolateParams = true, true // as the store sets them
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	if _, err := db.Exec(`CREATE TABLE raw_events (
		position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		event_id BINARY(16) NOT NULL UNIQUE,
		stream_id BINARY(16) NOT NULL,
		stream_version BIGINT NOT NULL,
		event_type VARCHAR(128) NOT NULL,
		data LONGBLOB NOT NULL,
		recorded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		UNIQUE KEY (stream_id, stream_version)) ENGINE=InnoDB`); err != nil {
		b.Fatal(err)
	}
	return db
}
