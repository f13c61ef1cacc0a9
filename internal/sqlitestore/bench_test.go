package sqlitestore_test

import (
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// BenchmarkStore runs the store benchmarks every store shares, to compare
// with the MySQL store's (docs/performance.md).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, teststore.SQLite.Open)
}
