package sqlstore

import (
	"context"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// BenchmarkFilteredLogPageFarFromTheHead measures one page of 1,000 events
// of a log read filtered on several names (two stream types, two event
// types: four branches), starting 49,000 events from the head of a log of
// 50,000, on each store: what each page costs a client catching up. A page
// read every match after its start and sorted them before the branches,
// so its cost grew with the tail; it should now be about a page a branch.
func BenchmarkFilteredLogPageFarFromTheHead(b *testing.B) {
	const events = 50_000
	ctx := context.Background()
	for name, db := range bothDBs(b) {
		// The log is written once, before b.Run: the testing package calls
		// a sub-benchmark's function again for each -count, on the same
		// database, and a second write of the same positions is refused.
		writeTypedEvents(ctx, b, db, events, 1000)
		if name == "mysql" {
			if _, err := db.ExecContext(ctx, "ANALYZE TABLE events"); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
			if name == "sqlite" {
				r.typePairIndex = IndexedByTypePair
			}
			opts := eventstore.ReadAllOptions{After: 1000, Limit: 1000,
				StreamTypes: []string{"order", "invoice"}, EventTypes: []string{"Rare", "Common"}}
			b.ReportAllocs()
			for b.Loop() {
				page, err := r.ReadAll(ctx, opts)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for _, err := range page.Events {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != opts.Limit {
					b.Fatalf("read %d events, want a page of %d", n, opts.Limit)
				}
			}
		})
	}
}
