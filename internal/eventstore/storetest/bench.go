package storetest

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// BenchData is the event payload the benchmarks write (about 60 bytes).
const BenchData = `{"sku":"A-1","qty":2,"price":{"amount":1999,"currency":"EUR"}}`

// Benchmark measures the same appends and reads on any store, so stores can
// be compared with each other and with a raw-driver baseline:
//
//   - AppendParallel: 16 clients per CPU, one event per append, each to its own stream;
//   - AppendClients8: 8 clients whatever the CPUs, likewise (load compare's
//     middle case, where group commit's groups are a few appends each);
//   - AppendSerial: one client, one event per append;
//   - ReadStreamPage: one page of 1,000 events of one stream;
//   - TailReadOfOneNewEvent, TailReadOf24NewEvents: the live feed's read
//     after a commit of one append, and of a group of 24;
//   - ReadLogPage: one page of 1,000 events of the log;
//   - ReadStreamOf20Events: a short stream read whole, with the default limit.
func Benchmark(b *testing.B, open func(testing.TB) eventstore.Store) {
	b.Run("AppendParallel", func(b *testing.B) {
		s := open(b)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			stream := uuid.New()
			for pb.Next() {
				if _, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "order",
					Events: []eventstore.NewEvent{{Type: "ItemAdded", Data: []byte(BenchData)}}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("AppendClients8", func(b *testing.B) {
		s := open(b)
		var next atomic.Int64
		b.ResetTimer()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				stream := uuid.New()
				for next.Add(1) <= int64(b.N) {
					if _, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "order",
						Events: []eventstore.NewEvent{{Type: "ItemAdded", Data: []byte(BenchData)}}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	b.Run("AppendSerial", func(b *testing.B) {
		s := open(b)
		stream := uuid.New()
		b.ResetTimer()
		for range b.N {
			if _, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "order",
				Events: []eventstore.NewEvent{{Type: "ItemAdded", Data: []byte(BenchData)}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadStreamPage", func(b *testing.B) {
		s := open(b)
		stream := uuid.New()
		if _, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "order",
			Events: benchEvents(1000)}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			page, err := s.ReadStream(context.Background(), stream, eventstore.ReadStreamOptions{Limit: 1000})
			if err != nil {
				b.Fatal(err)
			}
			if n := countEvents(b, page.Events); n != 1000 {
				b.Fatalf("read %d events, want 1000", n)
			}
		}
	})
	// The live feed's read on each commit: the events after its head, with
	// a page's limit (fanout's default, 500), of which there is one, or a
	// group commit's (8 to 25 appends under load, docs/performance.md).
	for _, events := range []int{1, 24} {
		b.Run(tailReadName[events], func(b *testing.B) {
			s := open(b)
			res, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "order",
				Events: benchEvents(events)})
			if err != nil {
				b.Fatal(err)
			}
			tail := s.Tail()
			opts := eventstore.ReadAllOptions{After: res.Events[0].Position - 1, Limit: 500}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				page, err := tail.ReadAll(context.Background(), opts)
				if err != nil {
					b.Fatal(err)
				}
				if n := countEvents(b, page.Events); n != events {
					b.Fatalf("read %d events, want %d", n, events)
				}
			}
		})
	}
	// A page of 1,000 events of the log, as a client catching up reads it:
	// the read does not know before how many events it finds.
	b.Run("ReadLogPage", func(b *testing.B) {
		s := open(b)
		res, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "order",
			Events: benchEvents(1000)})
		if err != nil {
			b.Fatal(err)
		}
		opts := eventstore.ReadAllOptions{After: res.Events[0].Position - 1, Limit: 1000}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			page, err := s.ReadAll(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			if n := countEvents(b, page.Events); n != 1000 {
				b.Fatalf("read %d events, want 1000", n)
			}
		}
	})
	// A stream as short as most are, read whole with the default limit (100).
	b.Run("ReadStreamOf20Events", func(b *testing.B) {
		s := open(b)
		stream := uuid.New()
		if _, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "order",
			Events: benchEvents(20)}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			page, err := s.ReadStream(context.Background(), stream, eventstore.ReadStreamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if n := countEvents(b, page.Events); n != 20 {
				b.Fatalf("read %d events, want 20", n)
			}
		}
	})
}

var tailReadName = map[int]string{1: "TailReadOfOneNewEvent", 24: "TailReadOf24NewEvents"}

// benchEvents returns n events of BenchData.
func benchEvents(n int) []eventstore.NewEvent {
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: "ItemAdded", Data: []byte(BenchData)}
	}
	return evs
}

// countEvents reads a page's events and returns how many there were.
func countEvents(b *testing.B, events iter.Seq2[eventstore.Event, error]) int {
	b.Helper()
	n := 0
	for _, err := range events {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}
