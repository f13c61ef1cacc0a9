package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func TestAppendNumbersVersionsOneTwoThreeAndAnswersWithLowerCaseStreamID(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		upper := strings.ToUpper(id)

		for want := int64(1); want <= 3; want++ {
			body := appendBody{Events: []newEvent{{Type: "OrderPlaced", Data: map[string]int64{"n": want}}}}
			if want == 1 {
				body.StreamType = "order" // required only to create the stream
			}
			r := s.post(t, "/streams/"+upper+"/events", body)
			requireStatus(t, r, http.StatusCreated)
			requireETag(t, r, want)
			if loc, wantLoc := r.Header.Get("Location"), fmt.Sprintf("/streams/%s/events/%d", id, want); loc != wantLoc {
				t.Errorf("append %d: expected Location %s, got %q", want, wantLoc, loc)
			}
			var res appendResult
			r.decode(t, &res)
			if res.StreamID != id || res.StreamType != "order" || res.Version != want || len(res.Events) != 1 {
				t.Fatalf("append %d: expected stream_id %s, stream_type order, version %d and one event; got %+v", want, id, want, res)
			}
			e := res.Events[0]
			if e.Version != want {
				t.Errorf("append %d: expected event version %d, got %d", want, want, e.Version)
			}
			if u, err := uuid.Parse(e.ID); err != nil || u.Version() != 7 || u.String() != e.ID {
				t.Errorf("append %d: expected a server-made lower-case UUIDv7 event id, got %q", want, e.ID)
			}
			if !timestampRE.MatchString(e.RecordedAt) {
				t.Errorf("append %d: expected recorded_at in RFC 3339 UTC with microseconds, got %q", want, e.RecordedAt)
			}

			// The Location names the first event of the batch.
			lr := s.get(t, r.Header.Get("Location"))
			requireStatus(t, lr, http.StatusOK)
			var got event
			lr.decode(t, &got)
			if got.ID != e.ID || got.Version != want {
				t.Errorf("GET Location of append %d: expected event %s at version %d, got %s at %d", want, e.ID, want, got.ID, got.Version)
			}
		}

		r := s.get(t, "/streams/"+upper)
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, 3)
		var st streamInfo
		r.decode(t, &st)
		if st.StreamID != id || st.Version != 3 || st.StreamType != "order" {
			t.Errorf("GET /streams/{UPPER}: expected stream_id %s, version 3, type order; got %+v", id, st)
		}
		if !timestampRE.MatchString(st.CreatedAt) || !timestampRE.MatchString(st.UpdatedAt) || st.UpdatedAt < st.CreatedAt {
			t.Errorf("GET /streams/{UPPER}: expected created_at ≤ updated_at, both RFC 3339 UTC with microseconds; got %q and %q",
				st.CreatedAt, st.UpdatedAt)
		}

		r = s.get(t, "/streams/"+upper+"/events")
		requireStatus(t, r, http.StatusOK)
		var page streamPage
		r.decode(t, &page)
		if page.StreamID != id || page.Version != 3 || len(page.Events) != 3 {
			t.Fatalf("GET /streams/{UPPER}/events: expected stream_id %s, version 3 and 3 events; got %s", id, r.Body)
		}
		for i, e := range page.Events {
			if e.Version != int64(i+1) || e.StreamID != id {
				t.Errorf("event %d: expected version %d of stream %s, got version %d of %s", i, i+1, id, e.Version, e.StreamID)
			}
		}
	})
}

func TestAppendWithStaleIfMatchIs409WithCurrentVersionAndWritesNothing(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")}, "If-None-Match", "*")
		s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")}, "If-Match", `"1"`)

		stale := events(2, "OrderShipped")
		r := s.post(t, "/streams/"+id+"/events", appendBody{Events: stale}, "If-Match", `"1"`)
		p := requireProblem(t, r, http.StatusConflict, "wrong-expected-version")
		requireETag(t, r, 2)
		if string(p.ExpectedVersion) != "1" {
			t.Errorf("expected expected_version 1 in the problem, got %s", p.ExpectedVersion)
		}
		if p.CurrentVersion == nil || *p.CurrentVersion != 2 {
			t.Errorf("expected current_version 2 in the problem, got %s", r.Body)
		}

		r = s.get(t, "/streams/"+id+"/events")
		requireStatus(t, r, http.StatusOK)
		var page streamPage
		r.decode(t, &page)
		if page.Version != 2 || len(page.Events) != 2 {
			t.Fatalf("expected the stream to stay at version 2 with 2 events, got version %d with %d events", page.Version, len(page.Events))
		}
		for _, e := range page.Events {
			if e.Type == "OrderShipped" {
				t.Errorf("expected nothing of the refused batch to be written, found event %s", e.ID)
			}
		}
		if log := s.readLog(t, "/events"); len(log) != 2 {
			t.Errorf("GET /events: expected 2 events in the log, got %d", len(log))
		}
	})
}

func TestBatchIsStoredInOrderWithClientIDsAndReadsBackIdentically(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		batch := []newEvent{
			{ID: newID(), Type: "CartCreated", Data: map[string]any{"owner": "ann"}, Metadata: map[string]string{"correlation_id": newID()}},
			{ID: newID(), Type: "ItemAdded", Data: map[string]any{"sku": "A-1", "qty": 2}},
			{ID: strings.ToUpper(newID()), Type: "ItemAdded", Data: []int{1, 2, 3}},
			{ID: newID(), Type: "ItemRemoved", Data: "A-1"},
			{ID: newID(), Type: "CartCheckedOut", Data: nil, Metadata: map[string]any{"causation_id": newID(), "n": 1}},
		}
		res := s.mustAppend(t, id, appendBody{StreamType: "cart", Events: batch})
		if res.Version != int64(len(batch)) || len(res.Events) != len(batch) {
			t.Fatalf("expected version %d and %d events in the answer, got %+v", len(batch), len(batch), res)
		}
		for i, e := range res.Events {
			if want := strings.ToLower(batch[i].ID); e.ID != want {
				t.Errorf("answer event %d: expected the client's id %s, got %s", i, want, e.ID)
			}
			if e.Version != int64(i+1) {
				t.Errorf("answer event %d: expected version %d, got %d", i, i+1, e.Version)
			}
			if i > 0 && e.Position != res.Events[i-1].Position+1 {
				t.Errorf("answer event %d: expected position %d (consecutive), got %d", i, res.Events[i-1].Position+1, e.Position)
			}
		}

		r := s.get(t, "/streams/"+id+"/events")
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, int64(len(batch)))
		var page streamPage
		r.decode(t, &page)
		if page.StreamID != id || page.StreamType != "cart" || page.Version != int64(len(batch)) || len(page.Events) != len(batch) {
			t.Fatalf("expected stream %s of type cart at version %d with %d events, got %s", id, len(batch), len(batch), r.Body)
		}
		for i, got := range page.Events {
			checkStoredEvent(t, got, id, "cart", batch[i], res.Events[i])
		}
		// The global log holds the same events, identically.
		log := s.readLog(t, "/events")
		if len(log) != len(batch) {
			t.Fatalf("GET /events: expected %d events, got %d", len(batch), len(log))
		}
		for i := range log {
			if !sameEvent(log[i], page.Events[i]) {
				t.Errorf("GET /events event %d: expected the same event as the stream read %+v, got %+v", i, page.Events[i], log[i])
			}
		}
	})
}

// checkStoredEvent compares a read event with what was sent and answered.
func checkStoredEvent(t *testing.T, got event, streamID, streamType string, sent newEvent, ack appendedEvent) {
	t.Helper()
	want := event{ID: ack.ID, StreamID: streamID, StreamType: streamType, Version: ack.Version, Position: ack.Position,
		Type: sent.Type, RecordedAt: ack.RecordedAt}
	data, _ := json.Marshal(sent.Data)
	want.Data = data
	if sent.Metadata != nil {
		want.Metadata, _ = json.Marshal(sent.Metadata)
	}
	if got.ID != want.ID || got.StreamID != want.StreamID || got.StreamType != want.StreamType || got.Version != want.Version ||
		got.Position != want.Position || got.Type != want.Type || got.RecordedAt != want.RecordedAt {
		t.Errorf("event %d: expected %+v, got %+v", ack.Version, want, got)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("event %d: expected data %s, got %s", ack.Version, want.Data, got.Data)
	}
	if !jsonEqual(got.Metadata, want.Metadata) {
		t.Errorf("event %d: expected metadata %s (absent when none was sent), got %s", ack.Version, want.Metadata, got.Metadata)
	}
}

func sameEvent(a, b event) bool {
	return a.ID == b.ID && a.StreamID == b.StreamID && a.StreamType == b.StreamType && a.Version == b.Version &&
		a.Position == b.Position && a.Type == b.Type && a.RecordedAt == b.RecordedAt &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Metadata, b.Metadata)
}

// jsonEqual compares two JSON values by meaning; nil equals only nil.
func jsonEqual(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

func TestConcurrentAppendsOnOneExpectedVersionHaveExactlyOneWinner(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		for _, tc := range []struct {
			name     string
			existing int // events written before the race
		}{
			{"fresh stream, If-Match 0", 0},
			{"after one event, If-Match 1", 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				id := newID()
				if tc.existing > 0 {
					s.mustAppend(t, id, appendBody{StreamType: "race", Events: events(tc.existing, "Setup")})
				}
				const writers = 50
				expected := int64(tc.existing)
				batches := make([][]newEvent, writers)
				results := make([]*response, writers)
				errs := make([]error, writers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range writers {
					batches[i] = events(2, fmt.Sprintf("Writer%d", i))
					body := jsonBytes(t, appendBody{StreamType: "race", Events: batches[i]})
					wg.Go(func() {
						<-start
						results[i], errs[i] = s.request(http.MethodPost, "/streams/"+id+"/events", body, "If-Match", fmt.Sprintf(`"%d"`, expected))
					})
				}
				close(start)
				wg.Wait()

				winner := -1
				for i, r := range results {
					if errs[i] != nil {
						t.Fatalf("writer %d: %v", i, errs[i])
					}
					switch r.Status {
					case http.StatusCreated:
						if winner >= 0 {
							t.Errorf("expected exactly one 201, got another for writer %d after writer %d", i, winner)
						}
						winner = i
					case http.StatusConflict:
						p := checkProblem(t, r, http.StatusConflict, "wrong-expected-version")
						if string(p.ExpectedVersion) != fmt.Sprint(expected) || p.CurrentVersion == nil || *p.CurrentVersion != expected+2 {
							t.Errorf("writer %d: expected expected_version %d and current_version %d, got %s", i, expected, expected+2, r.Body)
						}
					default:
						t.Errorf("writer %d: expected 201 or 409, got %d with body %s", i, r.Status, r.Body)
					}
				}
				if winner < 0 {
					t.Fatalf("expected exactly one 201 among %d racing appends, got none", writers)
				}

				r := s.get(t, "/streams/"+id+"/events")
				requireStatus(t, r, http.StatusOK)
				var page streamPage
				r.decode(t, &page)
				if len(page.Events) != tc.existing+2 || page.Version != expected+2 {
					t.Fatalf("expected the stream to hold %d events (version %d), got %d (version %d)",
						tc.existing+2, expected+2, len(page.Events), page.Version)
				}
				for i, e := range page.Events[tc.existing:] {
					if want := batches[winner][i].ID; e.ID != want {
						t.Errorf("event %d: expected the winner's event %s, got %s (type %s)", tc.existing+i+1, want, e.ID, e.Type)
					}
				}
			})
		}
	})
}

func TestRetryOfAStoredBatchIs200WithTheSameBodyAndWritesNothing(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		path := "/streams/" + id + "/events"
		stored := events(3, "OrderPlaced")
		batch := jsonBytes(t, appendBody{StreamType: "order", Events: stored})

		first := s.post(t, path, batch, "If-Match", `"0"`)
		requireStatus(t, first, http.StatusCreated)
		retry := s.post(t, path, batch, "If-Match", `"0"`)
		requireStatus(t, retry, http.StatusOK)
		if !bytes.Equal(retry.Body, first.Body) {
			t.Errorf("retry: expected the body of the original append\n%s\ngot\n%s", first.Body, retry.Body)
		}
		requireETag(t, retry, 3)
		if got, want := retry.Header.Get("Location"), first.Header.Get("Location"); got != want {
			t.Errorf("retry: expected Location %q as for the original, got %q", want, got)
		}

		// The stream moves on; a retry with the original, now stale, If-Match
		// is still recognised.
		s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")}, "If-Match", `"3"`)
		late := s.post(t, path, batch, "If-Match", `"0"`)
		requireStatus(t, late, http.StatusOK)
		if !bytes.Equal(late.Body, first.Body) {
			t.Errorf("retry after the stream moved on: expected the original body\n%s\ngot\n%s", first.Body, late.Body)
		}
		// Its ETag is the original answer's, the batch's version, not the
		// stream's now (4), as openapi.yaml and README say.
		requireETag(t, late, 3)
		// A retry may leave stream_type out, as any append to the existing
		// stream may: it is still the retry (README: the same stream type
		// if given; one given otherwise is idempotency-key-reused).
		untyped := s.post(t, path, jsonBytes(t, appendBody{Events: stored}), "If-Match", `"0"`)
		requireStatus(t, untyped, http.StatusOK)
		if !bytes.Equal(untyped.Body, first.Body) {
			t.Errorf("retry without stream_type: expected the original body\n%s\ngot\n%s", first.Body, untyped.Body)
		}
		requireETag(t, untyped, 3)

		r := s.get(t, "/streams/"+id)
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, 4)
		if log := s.readLog(t, "/events"); len(log) != 4 {
			t.Errorf("GET /events: expected 4 events (3 + 1, nothing written twice), got %d", len(log))
		}
	})
}

func TestReusingAStoredEventIDInAnotherBatchIs409DuplicateEventID(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		stored := events(3, "OrderPlaced")
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: stored})

		other := newID()
		// The detail says what is true: a part of a batch in its own stream
		// was said to be "already used by another stream or batch" (a
		// black-box tester), where a retry must resend the whole batch.
		const elsewhere, whole = "another stream", "resend the whole batch"
		for _, tc := range []struct {
			name      string
			streamID  string
			batch     []newEvent
			says, not string
		}{
			{"one id in another stream", other, []newEvent{{ID: newID(), Type: "X", Data: 1}, stored[1]}, elsewhere, whole},
			{"the whole batch in another stream", other, stored, elsewhere, whole},
			{"a stored id with a new one in the same stream", id, []newEvent{stored[2], {ID: newID(), Type: "X", Data: 1}}, whole, elsewhere},
			{"the stored batch reordered in the same stream", id, []newEvent{stored[1], stored[0]}, whole, elsewhere},
			{"the tail of the stored batch", id, stored[1:], whole, elsewhere},
			{"the head of the stored batch", id, stored[:2], whole, elsewhere},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.post(t, "/streams/"+tc.streamID+"/events", appendBody{StreamType: "order", Events: tc.batch})
				p := requireProblem(t, r, http.StatusConflict, "duplicate-event-id")
				if p.EventID == "" {
					t.Errorf("expected the problem to name the event id, got %s", r.Body)
				}
				if !strings.Contains(p.Detail, tc.says) || strings.Contains(p.Detail, tc.not) {
					t.Errorf("expected the detail to say %q, not %q; got %q", tc.says, tc.not, p.Detail)
				}
			})
		}
		requireStatus(t, s.get(t, "/streams/"+other), http.StatusNotFound)
		if log := s.readLog(t, "/events"); len(log) != len(stored) {
			t.Errorf("GET /events: expected only the %d stored events, got %d", len(stored), len(log))
		}
	})
}

// An event id of another stream is duplicate-event-id whatever content comes
// with it: it was answered idempotency-key-reused ("a retry must repeat the
// stored batch exactly", which sent to this stream is still a 409) when its
// data or stream type differed (a black-box tester).
func TestAnEventIDOfAnotherStreamIs409DuplicateEventIDWhateverItsContent(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		theirs, here, other := newID(), newID(), newID()
		stored := events(1, "A")
		s.mustAppend(t, theirs, appendBody{StreamType: "one", Events: stored})
		ours := events(1, "B")
		s.mustAppend(t, here, appendBody{StreamType: "one", Events: ours})
		ev := stored[0]
		otherData := newEvent{ID: ev.ID, Type: ev.Type, Data: 2}
		oursChanged := newEvent{ID: ours[0].ID, Type: ours[0].Type, Data: "changed"}
		for _, tc := range []struct {
			name     string
			streamID string
			body     appendBody
			header   []string
		}{
			{"other data", other, appendBody{StreamType: "one", Events: []newEvent{otherData}}, nil},
			{"another stream_type", other, appendBody{StreamType: "two", Events: stored}, nil},
			{"another type, If-None-Match *", other, appendBody{StreamType: "one", Events: []newEvent{{ID: ev.ID, Type: "Other", Data: ev.Data}}}, []string{"If-None-Match", "*"}},
			{"other data to an existing stream, If-Match its version", here, appendBody{Events: []newEvent{otherData}}, []string{"If-Match", `"1"`}},
			{"other data to an existing stream, If-Match another version", here, appendBody{Events: []newEvent{otherData}}, []string{"If-Match", `"5"`}},
			{"after this stream's whole stored batch", here, appendBody{Events: []newEvent{ours[0], ev}}, nil},
			{"beside an id of this stream with other data", here, appendBody{Events: []newEvent{oursChanged, otherData}}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.post(t, "/streams/"+tc.streamID+"/events", tc.body, tc.header...)
				p := requireProblem(t, r, http.StatusConflict, "duplicate-event-id")
				if p.EventID != ev.ID || !strings.Contains(p.Detail, "another stream") {
					t.Errorf("expected the problem to name event %s as used by another stream; got %s", ev.ID, r.Body)
				}
			})
		}
		requireStatus(t, s.get(t, "/streams/"+other), http.StatusNotFound)
		if log := s.readLog(t, "/events"); len(log) != 2 {
			t.Errorf("GET /events: expected only the 2 stored events, got %d", len(log))
		}
	})
}

func TestAStoredEventIDSentWithOtherContentIs409IdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		stored := events(3, "OrderPlaced")
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: stored})
		changed := func(i int, f func(*newEvent)) []newEvent {
			out := append([]newEvent(nil), stored...)
			f(&out[i])
			return out
		}
		for _, tc := range []struct {
			name string
			body appendBody
			id   string
		}{
			{"[a] with another type and data", appendBody{Events: []newEvent{{ID: stored[0].ID, Type: "Other", Data: map[string]int{"x": 1}}}}, stored[0].ID},
			{"the batch with another stream_type", appendBody{StreamType: "invoice", Events: stored}, stored[0].ID},
			{"the batch with b's data changed", appendBody{Events: changed(1, func(e *newEvent) { e.Data = "changed" })}, stored[1].ID},
			{"the batch with c's metadata added", appendBody{Events: changed(2, func(e *newEvent) { e.Metadata = map[string]int{"m": 1} })}, stored[2].ID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.post(t, "/streams/"+id+"/events", tc.body)
				if p := requireProblem(t, r, http.StatusConflict, "idempotency-key-reused"); p.EventID != tc.id {
					t.Errorf("expected the problem to name event %s, the one that differs; got %s", tc.id, r.Body)
				}
			})
		}
		if log := s.readLog(t, "/events"); len(log) != len(stored) {
			t.Errorf("GET /events: expected only the %d stored events, got %d", len(stored), len(log))
		}
	})
}
