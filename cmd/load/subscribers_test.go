package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadFramesKeepsIDsEventsAndDataAndSkipsComments(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10000) // longer than the reader's buffer
	stream := "retry: 2000\n\n" +
		"id: 7\ndata: {\"a\":1}\n\n" +
		": keep-alive\n\n" +
		"event: caught-up\ndata: 7\n\n" +
		"id: 8\r\ndata: " + long + "\r\n\r\n" +
		"id:9\ndata:x\n\n" +
		"id: 10\ndata: not ended by a blank line\n"
	var got []frame
	err := readFrames(bufio.NewReaderSize(strings.NewReader(stream), 64), func(f frame) { got = append(got, f) })
	if err != io.EOF {
		t.Errorf("expected io.EOF at the end of the stream, got %v", err)
	}
	want := []frame{
		{}, // the retry frame: a field the tool ignores
		{id: 7, hasID: true, data: true},
		{event: "caught-up", data: true},
		{id: 8, hasID: true, data: true},
		{id: 9, hasID: true, data: true},
	}
	if len(got) != len(want) {
		t.Fatalf("expected %d frames, got %d: %+v", len(want), len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d: expected %+v, got %+v", i, want[i], got[i])
		}
	}
}

func TestParseIDTakesEveryInt64PositionAndRejectsWhatIsNotOne(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"123456", 123456, true},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		// The server's positions and versions run to int64's top, 19
		// digits: one was refused, its frame counted as no event.
		{"1234567890123456789", 1234567890123456789, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false}, // past int64
		{"9999999999999999999", 0, false},
		{"12345678901234567890", 0, false}, // 20 digits
		{"00000000000000000001", 0, false}, // 20 digits, however small
	} {
		got, ok := parseID([]byte(tc.in), true)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseID(%q) = %d, %v; expected %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFillFindsLossDuplicatesAndLatency(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	w := writeResult{records: []appendRecord{
		{pos: 11, queued: 0, sent: 0, acked: 1 * ms, ok: true}, // warm-up: not in latency
		{pos: 12, queued: 10 * ms, sent: 10 * ms, acked: 11 * ms, ok: true},
		{pos: 13, queued: 20 * ms, sent: 20 * ms, acked: 21 * ms, ok: true},
		{queued: 30 * ms, sent: 30 * ms}, // failed: not expected anywhere
	}}
	complete := &subscriber{arrivals: []arrival{{11, 2 * ms}, {12, 13 * ms}, {13, 20 * ms}}}
	faulty := &subscriber{arrivals: []arrival{{11, 2 * ms}, {11, 3 * ms}, {14, 40 * ms}}}
	var r phaseResult
	r.fill(w, []*subscriber{complete, faulty}, 5*ms)
	if r.Written != 3 || r.Measured != 2 {
		t.Errorf("expected 3 written, 2 measured; got %d, %d", r.Written, r.Measured)
	}
	if r.DeliveredMin != 1 || r.DeliveredMax != 3 {
		t.Errorf("expected 1 to 3 delivered per subscriber, got %d to %d", r.DeliveredMin, r.DeliveredMax)
	}
	if r.Missing != 2 || r.Duplicates != 1 || r.Unexpected != 1 {
		t.Errorf("expected 2 missing, 1 duplicate, 1 unexpected; got %d, %d, %d", r.Missing, r.Duplicates, r.Unexpected)
	}
	// Delays: 13−11 = 2 ms and 20−21 = −1 ms (before the 201).
	if r.Latency.Samples != 2 || r.Latency.P50Ms != -1 || r.Latency.MaxMs != 2 || r.Latency.Negative != 1 {
		t.Errorf("expected 2 samples, p50 −1 ms, max 2 ms, 1 negative; got %+v", r.Latency)
	}
}

// TestAnAppendThatWaitedForABusyWriterCountsItsWait: appends are due at a
// steady rate; one that waits in the queue because every writer is busy
// with a slow server waits for its 201 from when it was queued, not from
// when a writer took it (coordinated omission: the slower the server, the
// more of its delay the figure would leave out).
func TestAnAppendThatWaitedForABusyWriterCountsItsWait(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	pos := int64(0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pos++
		p := pos
		mu.Unlock()
		if p == 1 {
			time.Sleep(200 * time.Millisecond) // a stall the later appends queue behind
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"events":[{"position":%d}]}`, p)
	}))
	t.Cleanup(srv.Close)
	l := &loadTest{
		cfg:         subscribersConfig{rate: 100, writers: 1},
		srv:         &server{url: srv.URL},
		writeClient: srv.Client(),
		streams:     []string{"s"},
	}
	clock := time.Now()
	w := l.write(context.Background(), clock, clock, 5) // due at 0, 10, 20, 30 and 40 ms
	if w.errors > 0 {
		t.Fatalf("expected every append to succeed, got %d errors, first %v", w.errors, w.firstErr)
	}
	var r phaseResult
	r.fill(w, nil, 0)
	// Each waited for the stall's end, 200 ms from the start: 200, 190, 180,
	// 170 and 160 ms; the queued four took about 0 ms once a writer was free.
	if r.Append.Samples != 5 || r.Append.P50Ms < 150 {
		t.Errorf("expected 5 appends with a p50 of about 180 ms (queued behind a 200 ms stall), got %+v", r.Append)
	}
}

// TestTheJSONReportHoldsEverySettingOfTheRun: -json must say how the run was
// made, -drain included: it decides how long events may take before they
// are counted missing.
func TestTheJSONReportHoldsEverySettingOfTheRun(t *testing.T) {
	t.Parallel()
	cfg, err := parseSubscribersFlags([]string{"-subscribers", "3", "-rate", "20", "-duration", "2s", "-warmup", "1s",
		"-settle", "3s", "-drain", "7s", "-writers", "4", "-streams", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(reportConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]float64{"subscribers": 3, "rate_per_sec": 20, "duration_seconds": 2, "warmup_seconds": 1,
		"settle_seconds": 3, "drain_seconds": 7, "writers": 4, "streams": 5} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("-json config: expected %s %g, got %v (present: %v) in %s", key, want, v, ok, b)
		}
	}
}

// TestAFailedSampleDuringTheWritesEndsThePhaseWithoutWaitingOutItsSchedule:
// once the phase has failed (here its counters cannot be read; the same
// when the server has died), the writers stop: they went on appending, or
// failing to, at the rate until the end of -warmup plus -duration, up to
// ten minutes, before the run said what was wrong.
func TestAFailedSampleDuringTheWritesEndsThePhaseWithoutWaitingOutItsSchedule(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"events":[{"position":1}]}`)
	}))
	t.Cleanup(srv.Close)
	// A database session that is closed: the counters cannot be read.
	sdb, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	conn, err := sdb.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // stops the writers if the phase does not
	l := &loadTest{
		cfg:         subscribersConfig{rate: 10, writers: 1, duration: time.Minute},
		srv:         &server{url: srv.URL},
		db:          &database{conn: conn},
		writeClient: srv.Client(),
		streams:     []string{"s"},
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := l.writeAndWatch(ctx, start, start, 600) // a minute at 10 appends/s
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("expected the failed reading of the counters as the phase's error, got none")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the phase still waited for its writers 5 s after it failed; expected them stopped at once")
	}
}

// TestReadFramesReadsEveryLineEndAndAByteOrderMark: the WHATWG
// event-stream grammar (HTML §9.2.5), which the Go client and the tests'
// parser read through internal/sseline, ends a line in CR LF, LF or CR
// alone, and drops one leading UTF-8 byte-order mark. The load tool split
// lines at LF only, so a stream of CR-only lines was one line without end
// (no frame, every event counted lost), and a mark made the first field's
// name another (the first event's id dropped). Each stream is read whole
// and a byte at a time, so that a CR LF split between two reads is one end.
func TestReadFramesReadsEveryLineEndAndAByteOrderMark(t *testing.T) {
	t.Parallel()
	const bom = "\uFEFF"
	long := strings.Repeat("x", 10000) // longer than the reader's buffer
	for _, tc := range []struct {
		name, in string
		want     []frame
	}{
		{"CR", "id: 1\rdata: a\r\revent: caught-up\rdata: 1\r\r", []frame{{id: 1, hasID: true, data: true}, {event: "caught-up", data: true}}},
		{"CR LF", "id: 1\r\ndata: a\r\n\r\nid: 2\r\ndata: b\r\n\r\n", []frame{{id: 1, hasID: true, data: true}, {id: 2, hasID: true, data: true}}},
		{"each end in one stream", "id: 1\rdata: a\n\r\nid: 2\ndata: " + long + "\r\r", []frame{{id: 1, hasID: true, data: true}, {id: 2, hasID: true, data: true}}},
		{"a long CR-only line", "id: 3\rdata: " + long + "\r\rid: 4\rdata: b\r\r", []frame{{id: 3, hasID: true, data: true}, {id: 4, hasID: true, data: true}}},
		{"a byte-order mark", bom + "id: 7\ndata: a\n\n", []frame{{id: 7, hasID: true, data: true}}},
		{"a byte-order mark, CR", bom + "id: 7\rdata: a\r\r", []frame{{id: 7, hasID: true, data: true}}},
		{"an id longer than the buffer", "id: " + long + "\rdata: a\r\r", []frame{{data: true}}},
	} {
		for how, r := range map[string]func(string) io.Reader{
			"whole":          func(in string) io.Reader { return strings.NewReader(in) },
			"a byte at once": func(in string) io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		} {
			var got []frame
			err := readFrames(r(tc.in), func(f frame) { got = append(got, f) })
			if err != io.EOF {
				t.Errorf("%s, %s: expected io.EOF at the end of the stream, got %v", tc.name, how, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s, %s: expected frames %+v, got %+v", tc.name, how, tc.want, got)
			}
		}
	}
}

// TestReadFramesTakesAnEventNamedMessageForAnEvent: "message" is the
// name of a frame without an event field (WHATWG HTML §9.2.6), which a
// server or proxy may write out; the Go client takes it for an event. The
// load tool recorded only frames without the field, so each such event
// was counted lost.
func TestReadFramesTakesAnEventNamedMessageForAnEvent(t *testing.T) {
	t.Parallel()
	var got []frame
	err := readFrames(strings.NewReader("event: message\nid: 5\ndata: a\n\nevent: caught-up\ndata: 5\n\n"), func(f frame) { got = append(got, f) })
	want := []frame{{id: 5, hasID: true, data: true}, {event: "caught-up", data: true}}
	if err != io.EOF || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("expected frames %+v, then io.EOF; got %+v, then %v", want, got, err)
	}
}
