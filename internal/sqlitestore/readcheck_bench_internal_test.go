package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// BenchmarkReadLargeEvents reads a page of 8 events of 1 MiB of data each,
// checked as every read is served: against their checksums (checked), and
// stored before the store kept checksums, their data and metadata checked
// to be JSON in UTF-8 (checked-as-JSON); and without a check (unchecked,
// the shared SQL store's read alone): the check's cost on large events.
func BenchmarkReadLargeEvents(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const n, size = 8, 1 << 20
	// An object of many short fields, as large events usually are: the
	// validator's slow path, not one long string.
	field := `"field":"value 123",`
	data := "{" + strings.Repeat(field, size/len(field)) + `"end":[1,2.5,true,null]}`
	summed, unsummed := uuid.New(), uuid.New()
	for _, stream := range []uuid.UUID{summed, unsummed} {
		for range n {
			if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Large", Data: []byte(data), Metadata: []byte(`{"n":1}`)}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := s.writes.ExecContext(ctx, "UPDATE events SET checksum = NULL WHERE stream_id = ?", unsummed[:]); err != nil {
		b.Fatal(err)
	}
	d := dialect
	d.Sum = nil
	unchecked := sqlstore.New(d, sqlstore.Options{Reads: s.reads, Writes: s.writes, Feed: s.feed})
	b.Cleanup(unchecked.Close)
	for _, c := range []struct {
		name  string
		after int64 // the summed events are the log's first n, the others the next n
		read  func(context.Context, eventstore.ReadAllOptions) (eventstore.LogPage, error)
	}{{"checked", 0, s.ReadAll}, {"checked-as-JSON", n, s.ReadAll}, {"unchecked", 0, unchecked.ReadAll}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n * int64(len(data)))
			for b.Loop() {
				page, err := c.read(ctx, eventstore.ReadAllOptions{Limit: n, After: c.after})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for _, err := range page.Events {
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != n {
					b.Fatalf("%d events; expected %d", got, n)
				}
			}
		})
	}
}
