package sqlitestore_test

import (
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
)

// BenchmarkStore runs the store benchmarks every store shares, to compare
// with the MySQL store's (docs/performance.md).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) eventstore.Store { return openStore(b, b.TempDir()) })
}
