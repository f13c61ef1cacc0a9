package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// appendTimeout bounds one append.
const appendTimeout = 10 * time.Second

// appendRecord is one scheduled append as the writer saw it.
type appendRecord struct {
	pos int64 // the event's position, from the 201
	// queued is when the append was due and handed to the writers, on the
	// phase's clock; sent, when a writer began its request: later if every
	// writer was busy.
	queued time.Duration
	sent   time.Duration
	acked  time.Duration // when the 201 arrived
	ok     bool          // it was sent and answered 201
}

// writeResult is the outcome of one phase's writes.
type writeResult struct {
	records  []appendRecord // one per scheduled append, in schedule order
	notSent  int            // appends skipped because every writer was busy
	errors   int
	firstErr error
}

// write appends total events, one every 1/rate seconds from start, each to
// the next of l.streams, with cfg.writers requests at most in flight. An
// append whose time comes while all writers are busy and the short queue is
// full is not sent, so the rate stays steady and the shortfall is visible.
func (l *loadTest) write(ctx context.Context, clock, start time.Time, total int) writeResult {
	res := writeResult{records: make([]appendRecord, total)}
	type job struct {
		i      int
		queued time.Duration
	}
	jobs := make(chan job, max(l.cfg.writers, int(l.cfg.rate/10))) // 100 ms of backlog
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range l.cfg.writers {
		wg.Go(func() {
			for j := range jobs {
				rec, err := l.append(ctx, clock, j.i)
				rec.queued = j.queued
				res.records[j.i] = rec
				if err != nil && ctx.Err() == nil {
					mu.Lock()
					res.errors++
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	interval := time.Duration(float64(time.Second) / l.cfg.rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case jobs <- job{i, time.Since(clock)}:
		default:
			res.notSent++
		}
	}
	close(jobs)
	wg.Wait()
	return res
}

// append sends append number i and returns what it saw.
func (l *loadTest) append(ctx context.Context, clock time.Time, i int) (appendRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, appendTimeout)
	defer cancel()
	stream := l.streams[i%len(l.streams)]
	body := `{"stream_type":"load","events":[{"type":"LoadTested","data":{"seq":` + strconv.Itoa(i) + `}}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.url+"/streams/"+stream+"/events", bytes.NewReader([]byte(body)))
	if err != nil {
		return appendRecord{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	rec := appendRecord{sent: time.Since(clock)}
	resp, err := l.writeClient.Do(req)
	if err != nil {
		return rec, fmt.Errorf("append to %s: %w", stream, err)
	}
	rec.acked = time.Since(clock)
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return rec, fmt.Errorf("append to %s: read the response: %w", stream, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return rec, fmt.Errorf("append to %s: %s, expected 201 Created: %s", stream, resp.Status, truncate(string(b), 300))
	}
	var out struct {
		Events []struct {
			Position int64 `json:"position"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Events) != 1 || out.Events[0].Position <= 0 {
		return rec, fmt.Errorf("append to %s: expected one event with a position in the 201 body, got %s", stream, truncate(string(b), 300))
	}
	rec.pos, rec.ok = out.Events[0].Position, true
	return rec, nil
}
