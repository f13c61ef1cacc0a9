package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// soakWriter appends small batches to a stream of its own with client ids,
// retrying a batch the server answered 503 (or not at all) with the same ids
// until it is acknowledged, 201 or, if the earlier try was stored after all,
// 200. It records what was acknowledged in acks.
type soakWriter struct {
	srv     *server
	acks    *ackLog
	stream  string
	slowest atomic.Int64 // nanoseconds, the longest wait for any answer
	refused atomic.Int64 // answers 503
}

func (w *soakWriter) run(t *testing.T, until time.Time) {
	for i := 0; time.Now().Before(until); i++ {
		batch := events(1+i%3, fmt.Sprintf("Soaked%d", i%2))
		body, err := json.Marshal(appendBody{StreamType: "soak", Events: batch})
		if err != nil {
			t.Error(err)
			return
		}
		for {
			start := time.Now()
			r, err := w.srv.request(http.MethodPost, "/streams/"+w.stream+"/events", body)
			if took := int64(time.Since(start)); took > w.slowest.Load() {
				w.slowest.Store(took)
			}
			if err == nil && (r.Status == http.StatusCreated || r.Status == http.StatusOK) {
				var res appendResult
				if err := r.decodeErr(&res); err != nil {
					t.Error(err)
					return
				}
				w.acks.mu.Lock()
				for j, e := range res.Events {
					w.acks.events = append(w.acks.events, ackedEvent{ID: e.ID, StreamID: res.StreamID, StreamType: res.StreamType,
						Type: batch[j].Type, Version: e.Version, Position: e.Position})
				}
				w.acks.mu.Unlock()
				break
			}
			if err == nil && r.Status != http.StatusServiceUnavailable {
				t.Errorf("append to %s: %d %s; expected 201, or 503 while the lock is held", w.stream, r.Status, r.Body)
				return
			}
			w.refused.Add(1)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestSoakWithFastSlowAndStalledSubscribersWritersAndAHeldLock runs, for a
// bounded time on each store, writers whose appends twice meet a write lock
// held by another session, fast and slow subscribers, and clients that stop
// reading their answers. It holds: writers get their answers within the
// request timeout even while the lock is held; reads and /readyz stay
// prompt throughout; every subscriber gets every acknowledged event exactly
// once, in order, and promptly at the end.
func TestSoakWithFastSlowAndStalledSubscribersWritersAndAHeldLock(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const (
			duration = 12 * time.Second
			timeout  = time.Second
		)
		dataDir := t.TempDir()
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_MYSQL_MAX_CONNS=4", "TRIBUTARY_REQUEST_TIMEOUT=1s",
			"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT=2s", "TRIBUTARY_HEARTBEAT=500ms", "TRIBUTARY_DATA_DIR="+dataDir)...)
		acks := &ackLog{}
		big := newID()
		for i := 0; i < 4; i++ { // 4 MB of history, for the stalled clients to choke on
			if err := acks.append(srv, big, "big", bigBatch(100, 10_000)); err != nil {
				t.Fatal(err)
			}
		}

		var followers []*follower
		for i := range 3 {
			followers = append(followers, &follower{name: fmt.Sprintf("fast %d", i), path: "/events?after=0", pick: urlOf(srv), floor: acks.head})
		}
		// The slow one reads 100 events/s for its first 1,500 events, far
		// behind the writers (it leaves the live feed and reads the store),
		// then at full speed, so that it can catch up by the end.
		var slowFrames atomic.Int64
		slow := &follower{name: "slow", path: "/events?after=0", pick: urlOf(srv), floor: acks.head,
			pause: func() time.Duration {
				if slowFrames.Add(1) < 1500 {
					return 10 * time.Millisecond
				}
				return 0
			}}
		followers = append(followers, slow)
		stopFollowers := runFollowers(t, followers)
		for range 3 {
			stallOn(t, srv, "/events", "Accept: text/event-stream\r\n")
			stallOn(t, srv, "/events?limit=1000")
		}

		until := time.Now().Add(duration)
		var wg sync.WaitGroup
		writers := make([]*soakWriter, 4)
		for i := range writers {
			writers[i] = &soakWriter{srv: srv, acks: acks, stream: newID()}
			wg.Go(func() { writers[i].run(t, until) })
		}
		// Twice, another session holds the write lock for twice the request timeout.
		wg.Go(func() {
			for _, at := range []time.Duration{3 * time.Second, 8 * time.Second} {
				time.Sleep(time.Until(until.Add(at - duration)))
				release := holdWriteLock(t, srv, dataDir)
				time.Sleep(2 * timeout)
				release()
			}
		})
		// Probes: a read and /readyz every 250 ms.
		var slowestProbe time.Duration
		var probeFailures []string
		wg.Go(func() {
			for time.Now().Before(until) {
				for _, path := range []string{"/readyz", "/events?after=0&limit=1"} {
					start := time.Now()
					r, err := srv.request(http.MethodGet, path, nil)
					slowestProbe = max(slowestProbe, time.Since(start))
					if err != nil || r.Status != http.StatusOK {
						probeFailures = append(probeFailures, fmt.Sprintf("GET %s: %v %v", path, r, err))
					}
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
		wg.Wait()

		if slowestProbe > prompt || len(probeFailures) > 0 {
			t.Errorf("probes: slowest %s (expected under %s), failures %q", slowestProbe, prompt, probeFailures)
		}
		var refused int64
		for _, w := range writers {
			refused += w.refused.Load()
			if slowest := time.Duration(w.slowest.Load()); slowest > timeout+2*time.Second {
				t.Errorf("writer %s waited %s for an answer; expected the %s timeout and a little at most", w.stream, slowest, timeout)
			}
		}
		if refused == 0 {
			t.Errorf("no append was refused while the write lock was held; the test did not hold it")
		}
		head := acks.head()
		for _, f := range followers {
			wait := prompt
			if f == slow {
				wait = 4 * prompt
			}
			if err := f.waitFor(head, time.Now().Add(wait)); err != nil {
				t.Error(err)
			}
		}
		stopFollowers()
		want := acks.want(nil)
		for _, f := range followers {
			got, _, _, faults := f.result()
			if len(faults) > 0 {
				t.Errorf("%s: protocol faults %q", f.name, faults)
			}
			checkDelivery(t, f.name, got, want)
		}
		t.Logf("%d events acknowledged, %d appends refused while the lock was held, slowest probe %s", len(want), refused, slowestProbe)
	})
}
