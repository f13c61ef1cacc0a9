package sqlitestore

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// BenchmarkReadLargeEvents reads a page of 8 events of 1 MiB of data each,
// with the check that their data and metadata are still JSON in UTF-8
// (checked, as every read is served) and without it (unchecked, the
// shared SQL store's read alone): the check's cost on large events.
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
	stream := uuid.New()
	for range n {
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Large", Data: []byte(data), Metadata: []byte(`{"n":1}`)}}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		read func(context.Context, eventstore.ReadAllOptions) (eventstore.LogPage, error)
	}{{"checked", s.ReadAll}, {"unchecked", s.Store.ReadAll}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n * int64(len(data)))
			for b.Loop() {
				page, err := c.read(ctx, eventstore.ReadAllOptions{Limit: n})
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
