// Package storetest states every guarantee of an eventstore.Store once, as a
// suite that each store's tests run against a fresh store of their own.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// Backend tells the suite how to make stores of one kind.
type Backend struct {
	// Open returns an empty, migrated store on a database of its own, and
	// closes it when the test ends.
	Open func(t testing.TB) eventstore.Store
	// OpenAgain opens another store on the database of s, as a second
	// service process would. It is nil for a store that serves one process.
	OpenAgain func(t *testing.T, s eventstore.Store) eventstore.Store
	// BeforeCommit makes f run inside each of s's append transactions just
	// before COMMIT, so a test can hold a transaction open.
	BeforeCommit func(s eventstore.Store, f func())
	// Exec runs a statement on s's database behind the store's back, as a
	// writer that ignores its rules would.
	Exec func(t *testing.T, s eventstore.Store, query string, args ...any)
	// DropIndex is the statement, with %s for the index's name, that drops
	// an index of the events table in s's database's dialect.
	DropIndex string
	// VisibleInCommitOrder: readers never see a commit before an earlier
	// one, so a missing position is rows removed by hand, never a commit on
	// its way, and reads need not wait for it.
	VisibleInCommitOrder bool
}

// Exercise runs the whole suite.
func Exercise(t *testing.T, b Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s eventstore.Store)
	}{
		{"AppendCreatesStreamAtVersionOfBatch", testAppendCreates},
		{"VersionGrowsByOneWithEachEvent", testVersionGrows},
		{"ExpectedVersionForms", testExpectedVersions},
		{"FailedAppendWritesNothing", testFailedAppendWritesNothing},
		{"StreamTypeRules", testStreamType},
		{"IdempotentRetryReturnsOriginalAndWritesNothing", testIdempotentRetry},
		{"DuplicateEventIDIsRefused", testDuplicateEventID},
		{"OnlyTheWholeSameBatchIsARetry", testRetryIsTheWholeSameBatch},
		{"ABatchWithAnEventWithoutIDIsNoRetryAndTheRefusalSaysWhy", testRetryOfABatchWithoutEveryID},
		{"AnIDOfAnotherStreamIsADuplicateWhateverItsContent", testAnotherStreamsIDWhateverItsContent},
		{"ConcurrentRetriesWithOtherContentAreRefused", testConcurrentReusedIDs},
		{"ConcurrentAppendsOnOneExpectedVersionOneWins", testConcurrentSameVersion},
		{"ConcurrentAppendsFailOnlyTheConflicting", testMixedGroup},
		{"DataComesBackByteForByte", testByteIdentical},
		{"ReadStreamPagesForwardAndBackward", testReadStreamPaging},
		{"EventByVersion", testEventByVersion},
		{"EventPositionByVersion", testEventPositionByVersion},
		{"ReadAllInPositionOrderWithFilters", testReadAll},
		{"ListStreamsPagesAndFilters", testListStreams},
		{"InvalidAppendIsRefused", testInvalidAppend},
		{"PollingReaderSeesEveryEventOnceInOrder", testPollingReader},
		{"TailReadsTheLogAsReadAllDoes", testTailReadsTheLog},
		{"TailIDAtIsTheIDOfTheEventAtAPosition", testTailIDAt},
		{"ClosingTwiceIsHarmless", testCloseTwice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b.Open(t))
		})
	}
	// The cases that need the backend itself: a second process, a hook.
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"HeldTransactionIsNotSkippedByReaders", testHeldTransaction},
		{"AppendsQueuedBehindACommitAreCheckedAfterIt", testQueuedBehindACommit},
		{"PagesOfSmallAndLargeEventsAreWhole", testMixedSizes},
		{"ReadsNeverAnswerPastAPositionNotYetVisible", testHoles},
		{"UniqueKeyViolationIsNeverAFalseConflict", testUniqueKeyViolation},
		{"ConcurrentAppendsThroughSeveralProcesses", testSeveralProcesses},
		{"StreamDescriptionIsItsFirstAndLastEvents", testStreamDescription},
		{"RetryRacingItsOriginalThroughAnotherProcessIsAReplay", testRetryRacingItsOriginal},
		{"TailRefusesEventsPastTheLogsHeadAsDamage", testTailPastTheHead},
		{"AReadWhoseIndexWasDroppedIsMissingNamingTheStatementThatMakesItAgain", testDroppedIndex},
		{"PageReadRefusesEventsPastTheLogsHeadAsDamage", testPagePastTheHead},
		{"TailsHeadRefusesEventsPastItAsDamage", testTailHeadPastTheHead},
		{"StreamReadRefusesEventsPastTheLogsHeadAsDamage", testStreamPastTheHead},
		{"StreamListRefusesStreamsPastTheLogsHeadAsDamage", testListStreamsPastTheHead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// batch makes n events of type T with small JSON data.
func batch(n int) []eventstore.NewEvent {
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: "Happened", Data: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return evs
}

func withIDs(evs []eventstore.NewEvent) []eventstore.NewEvent {
	for i := range evs {
		evs[i].ID = uuid.New()
	}
	return evs
}

func mustAppend(t *testing.T, s eventstore.Store, req eventstore.AppendRequest) eventstore.AppendResult {
	t.Helper()
	if req.StreamType == "" {
		req.StreamType = "thing"
	}
	res, err := s.Append(ctx(t), req)
	if err != nil {
		t.Fatalf("append %d events to %s (expected %s): %v", len(req.Events), req.StreamID, req.Expected, err)
	}
	return res
}

func collect(t *testing.T, seq iter.Seq2[eventstore.Event, error]) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	for e, err := range seq {
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		out = append(out, e)
	}
	return out
}

func readStream(t *testing.T, s eventstore.Store, id uuid.UUID, opts eventstore.ReadStreamOptions) ([]eventstore.Event, eventstore.StreamPage) {
	t.Helper()
	page, err := s.ReadStream(ctx(t), id, opts)
	if err != nil {
		t.Fatalf("read stream %s: %v", id, err)
	}
	return collect(t, page.Events), page
}

func versions(evs []eventstore.Event) []int64 {
	v := make([]int64, len(evs))
	for i, e := range evs {
		v[i] = e.Version
	}
	return v
}

func testAppendCreates(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	evs := withIDs(batch(3))
	evs[1].Metadata = []byte(`{"correlation_id":"c-1"}`)
	res := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, StreamType: "order", Expected: eventstore.NoStream, Events: evs})
	if res.Version != 3 || res.StreamType != "order" || res.StreamID != id || res.Duplicate {
		t.Fatalf("append result = %+v, want version 3 of order stream %s, not a duplicate", res, id)
	}
	for i, r := range res.Events {
		if r.ID != evs[i].ID || r.Version != int64(i+1) {
			t.Errorf("result event %d = %+v, want id %s version %d", i, r, evs[i].ID, i+1)
		}
		if i > 0 && r.Position != res.Events[i-1].Position+1 {
			t.Errorf("positions within a batch = %d then %d, want consecutive", res.Events[i-1].Position, r.Position)
		}
		if r.RecordedAt.IsZero() || r.RecordedAt.Location() != time.UTC {
			t.Errorf("recorded_at = %v, want a UTC time", r.RecordedAt)
		}
	}
	st, err := s.Stream(ctx(t), id)
	if err != nil {
		t.Fatalf("stream after append: %v", err)
	}
	if st.Version != 3 || st.Type != "order" || st.CreatedAt.IsZero() || st.UpdatedAt.Before(st.CreatedAt) {
		t.Fatalf("stream = %+v, want version 3 type order with timestamps", st)
	}
	got, _ := readStream(t, s, id, eventstore.ReadStreamOptions{})
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.ID != evs[i].ID || e.StreamID != id || e.StreamType != "order" || e.Type != "Happened" ||
			string(e.Data) != string(evs[i].Data) || string(e.Metadata) != string(evs[i].Metadata) ||
			e.Position != res.Events[i].Position || !e.RecordedAt.Equal(res.Events[i].RecordedAt) {
			t.Errorf("event %d = %+v\nwant it as appended: %+v at %+v", i, e, evs[i], res.Events[i])
		}
	}
	if got[0].Metadata != nil {
		t.Errorf("metadata of an event without any = %q, want nil", got[0].Metadata)
	}
	if _, err := s.Stream(ctx(t), uuid.New()); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("Stream of an unknown id: err = %v, want ErrStreamNotFound", err)
	}
	if _, err := s.ReadStream(ctx(t), uuid.New(), eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadStream of an unknown id: err = %v, want ErrStreamNotFound", err)
	}
}

func testVersionGrows(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	for want := int64(1); want <= 4; want++ {
		res := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(want - 1), Events: batch(1)})
		if res.Version != want || res.Events[0].Version != want {
			t.Fatalf("append %d gave version %d, want %d", want, res.Version, want)
		}
	}
	res := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(2)})
	if res.Version != 6 {
		t.Fatalf("append of 2 events at version 4 gave version %d, want 6", res.Version)
	}
}

func testExpectedVersions(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	// A missing stream: "must exist" and an exact non-zero version fail.
	for _, exp := range []eventstore.ExpectedVersion{eventstore.StreamExists, eventstore.Exactly(1)} {
		_, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, StreamType: "thing", Expected: exp, Events: batch(1)})
		var wev *eventstore.WrongExpectedVersionError
		if !errors.As(err, &wev) || wev.Current != 0 || !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Errorf("expected %s on a missing stream: err = %v, want wrong expected version with current 0", exp, err)
		}
	}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.NoStream, Events: batch(2)})
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream, eventstore.Exactly(0), eventstore.Exactly(1), eventstore.Exactly(3)} {
		_, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, Expected: exp, Events: batch(1)})
		var wev *eventstore.WrongExpectedVersionError
		if !errors.As(err, &wev) || wev.Current != 2 || wev.Expected != exp {
			t.Errorf("expected %s at version 2: err = %v, want wrong expected version carrying expected %s, current 2", exp, err, exp)
		}
	}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.StreamExists, Events: batch(1)})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(3), Events: batch(1)})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Any, Events: batch(1)})
	if st, _ := s.Stream(ctx(t), id); st.Version != 5 {
		t.Fatalf("version after three good appends = %d, want 5", st.Version)
	}
}

func testFailedAppendWritesNothing(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(1)})
	before := logLength(t, s)
	failing := []eventstore.AppendRequest{
		{StreamID: id, Expected: eventstore.Exactly(7), Events: batch(3)},
		{StreamID: id, StreamType: "other", Events: batch(3)},
		{StreamID: uuid.New(), Events: batch(3)}, // new stream without a type
	}
	for _, req := range failing {
		if _, err := s.Append(ctx(t), req); err == nil {
			t.Fatalf("append %+v succeeded, want it refused", req)
		}
	}
	if st, _ := s.Stream(ctx(t), id); st.Version != 1 {
		t.Errorf("stream version after refused appends = %d, want 1", st.Version)
	}
	requireLogLength(t, s, before, "after refused appends")
}

// outcomes counts how appends sent at once ended.
type outcomes struct {
	written, retries, refused, failed int
}

// raceAppends sends n appends at once, the i-th with send(i), and counts
// how they ended: written, a retry of a stored batch, refused with
// refusal, or failed otherwise, which also fails the test.
func raceAppends(t *testing.T, n int, refusal error, send func(i int) (eventstore.AppendResult, error)) outcomes {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var o outcomes
	for i := range n {
		wg.Go(func() {
			res, err := send(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && !res.Duplicate:
				o.written++
			case err == nil:
				o.retries++
			case errors.Is(err, refusal):
				o.refused++
			default:
				o.failed++
				t.Errorf("append %d of %d at once: %v; want success, a retry or %v", i, n, err, refusal)
			}
		})
	}
	wg.Wait()
	return o
}

// requireDuplicate appends req, which must be refused with a
// DuplicateEventError naming event (any event, when it is uuid.Nil) that
// says where the event is stored: in another stream, or in req's stream
// in a batch req does not repeat whole (a retry must resend it whole).
func requireDuplicate(t *testing.T, s eventstore.Store, name string, req eventstore.AppendRequest, event uuid.UUID, inStream bool) {
	t.Helper()
	_, err := s.Append(ctx(t), req)
	var dup *eventstore.DuplicateEventError
	if !errors.As(err, &dup) || !errors.Is(err, eventstore.ErrDuplicateEventID) || (event != uuid.Nil && dup.EventID != event) {
		t.Errorf("%s: err = %v; want DuplicateEventError naming %s (nil: any)", name, err, event)
		return
	}
	says, not := "another stream", "this stream"
	if inStream {
		says, not = "resend the whole batch", "another stream"
	}
	if msg := dup.Error(); !strings.Contains(msg, says) || strings.Contains(msg, not) {
		t.Errorf("%s: %q; want it to say %q, not %q", name, msg, says, not)
	}
}

// requireLogLength fails the test unless the log holds want events; when
// says at which point.
func requireLogLength(t *testing.T, s eventstore.Store, want int, when string) {
	t.Helper()
	if n := logLength(t, s); n != want {
		t.Errorf("log holds %d events %s, want %d", n, when, want)
	}
}

func logLength(t *testing.T, s eventstore.Store) int {
	t.Helper()
	n, after := 0, int64(0)
	for {
		page, err := s.ReadAll(ctx(t), eventstore.ReadAllOptions{After: after, Limit: eventstore.MaxLimit})
		if err != nil {
			t.Fatalf("read log: %v", err)
		}
		n += len(collect(t, page.Events))
		if !page.More {
			return n
		}
		after = page.Last
	}
}

func testStreamType(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	_, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, Events: batch(1)})
	if !errors.Is(err, eventstore.ErrStreamTypeRequired) {
		t.Errorf("new stream without a type: err = %v, want ErrStreamTypeRequired", err)
	}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, StreamType: "order", Events: batch(1)})
	_, err = s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, StreamType: "invoice", Events: batch(1)})
	var mm *eventstore.StreamTypeMismatchError
	if !errors.As(err, &mm) || mm.Stored != "order" || mm.Given != "invoice" {
		t.Errorf("append with another type: err = %v, want StreamTypeMismatchError order/invoice", err)
	}
	res, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, Events: batch(1)})
	if err != nil || res.StreamType != "order" {
		t.Errorf("append without a type to an order stream: %+v, %v; want success reporting type order", res, err)
	}
	if _, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, StreamType: "order", Events: batch(1)}); err != nil {
		t.Errorf("append repeating the stored type: %v", err)
	}
}

func testIdempotentRetry(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	evs := withIDs(batch(3))
	first := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Expected: eventstore.NoStream, Events: evs})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(2)}) // the stream moves on
	// The retry carries the original, now stale, expected version.
	again, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, StreamType: "thing", Expected: eventstore.NoStream, Events: evs})
	if err != nil {
		t.Fatalf("retry of a stored batch: %v, want the original result", err)
	}
	if !again.Duplicate || again.Version != first.Version || !slices.EqualFunc(again.Events, first.Events, sameRecorded) {
		t.Fatalf("retry result = %+v\nwant the original %+v marked duplicate", again, first)
	}
	if st, _ := s.Stream(ctx(t), id); st.Version != 5 {
		t.Fatalf("stream version after retry = %d, want 5: nothing written twice", st.Version)
	}
	requireLogLength(t, s, 5, "after retry")
	// Many retries at once still write nothing.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if r, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, Events: evs}); err != nil || !r.Duplicate {
				t.Errorf("concurrent retry: %+v, %v; want a duplicate result", r, err)
			}
		})
	}
	wg.Wait()
	requireLogLength(t, s, 5, "after concurrent retries")
}

func sameRecorded(a, b eventstore.RecordedEvent) bool {
	return a.ID == b.ID && a.Version == b.Version && a.Position == b.Position && a.RecordedAt.Equal(b.RecordedAt)
}

func testDuplicateEventID(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	evs := withIDs(batch(3))
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: evs})
	cases := map[string]eventstore.AppendRequest{
		"id used by another stream": {StreamID: uuid.New(), StreamType: "thing", Events: []eventstore.NewEvent{evs[0]}},
		"part of a stored batch":    {StreamID: id, Events: append([]eventstore.NewEvent{evs[0]}, withIDs(batch(1))...)},
		"stored batch out of order": {StreamID: id, Events: []eventstore.NewEvent{evs[1], evs[0]}},
		"stored ids with a new one": {StreamID: id, Events: append(withIDs(batch(1)), evs[2])},
	}
	for name, req := range cases {
		requireDuplicate(t, s, name, req, uuid.Nil, req.StreamID == id)
	}
	requireLogLength(t, s, 3, "after refused batches, which write nothing")
}

// testRetryOfABatchWithoutEveryID: a batch in which only some events carry
// an id is sent again as it was sent: the events without one were given new
// ids the first time, so it is not recognised as a retry (API.md: every
// event id of the batch is stored), and nothing is written. The refusal
// says why, not that the client changed the batch (an apiuser found "a retry
// must resend the whole batch as it was sent", which it had): which events
// have no id, and where the id's batch is stored.
func testRetryOfABatchWithoutEveryID(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: withIDs(batch(1))})
	for _, tc := range []struct {
		named int      // the event with an id
		want  []string // what the refusal says
	}{
		{1, []string{"events[0] and events[2] have no id", "stored at version 3"}},
		{0, []string{"events[1] and events[2] have no id", "the first of a batch of 3 stored at versions 5 to 7"}},
	} {
		evs := batch(3)
		evs[tc.named].ID = uuid.New()
		req := eventstore.AppendRequest{StreamID: id, StreamType: "thing", Events: evs}
		mustAppend(t, s, req)
		_, err := s.Append(ctx(t), req)
		var dup *eventstore.DuplicateEventError
		if !errors.As(err, &dup) || !errors.Is(err, eventstore.ErrDuplicateEventID) || dup.EventID != evs[tc.named].ID {
			t.Fatalf("the batch sent again: err = %v; want DuplicateEventError naming %s", err, evs[tc.named].ID)
		}
		msg := dup.Error()
		for _, want := range append(tc.want, "cannot be recognised as a retry", "every event") {
			if !strings.Contains(msg, want) {
				t.Errorf("the batch sent again: %q; want it to say %q", msg, want)
			}
		}
		if strings.Contains(msg, "as it was sent") {
			t.Errorf("the batch sent again: %q; want it not to tell the client it did not resend the batch as it was sent", msg)
		}
	}
	requireLogLength(t, s, 7, "after the batches were sent again, which writes nothing")
}

// testRetryIsTheWholeSameBatch: only the whole stored batch, in order, with
// the same content, is a retry; a part of it is a duplicate id, and other
// content under a stored id is a reused idempotency key naming that event.
func testRetryIsTheWholeSameBatch(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	evs := withIDs(batch(3))
	evs[2].Metadata = []byte(`{"m":1}`)
	first := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, StreamType: "thing", Events: evs})
	other := func(i int, change func(*eventstore.NewEvent)) []eventstore.NewEvent {
		out := slices.Clone(evs)
		change(&out[i])
		return out
	}
	dup := map[string]eventstore.AppendRequest{
		"its tail [b,c]": {StreamID: id, Events: evs[1:]},
		"its head [a,b]": {StreamID: id, Events: evs[:2]},
		"one event [b]":  {StreamID: id, Events: evs[1:2]},
	}
	for name, req := range dup {
		requireDuplicate(t, s, "a part of a stored batch, "+name, req, req.Events[0].ID, true)
	}
	reused := map[string]struct {
		req   eventstore.AppendRequest
		event uuid.UUID
	}{
		"[a] with another type and data":      {eventstore.AppendRequest{StreamID: id, Events: []eventstore.NewEvent{{ID: evs[0].ID, Type: "Other", Data: []byte(`{"x":1}`)}}}, evs[0].ID},
		"the batch with another stream_type":  {eventstore.AppendRequest{StreamID: id, StreamType: "another", Events: evs}, evs[0].ID},
		"the batch with b's data changed":     {eventstore.AppendRequest{StreamID: id, Events: other(1, func(e *eventstore.NewEvent) { e.Data = []byte(`{"n": 1}`) })}, evs[1].ID},
		"the batch with c's metadata changed": {eventstore.AppendRequest{StreamID: id, Events: other(2, func(e *eventstore.NewEvent) { e.Metadata = []byte(`{"m":2}`) })}, evs[2].ID},
		"the batch without c's metadata":      {eventstore.AppendRequest{StreamID: id, Events: other(2, func(e *eventstore.NewEvent) { e.Metadata = nil })}, evs[2].ID},
		"the batch with a's type changed":     {eventstore.AppendRequest{StreamID: id, Events: other(0, func(e *eventstore.NewEvent) { e.Type = "Other" })}, evs[0].ID},
	}
	for name, tc := range reused {
		var rerr *eventstore.IdempotencyKeyReusedError
		if _, err := s.Append(ctx(t), tc.req); !errors.As(err, &rerr) || !errors.Is(err, eventstore.ErrIdempotencyKeyReused) || rerr.EventID != tc.event {
			t.Errorf("%s: err = %v; want IdempotencyKeyReusedError naming %s", name, err, tc.event)
		}
	}
	again, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, StreamType: "thing", Events: evs})
	if err != nil || !again.Duplicate || !slices.EqualFunc(again.Events, first.Events, sameRecorded) {
		t.Errorf("the whole batch again: %+v, %v; want the original result marked duplicate", again, err)
	}
	requireLogLength(t, s, 3, "after refused requests, which write nothing")
}

// testAnotherStreamsIDWhateverItsContent: an event id stored in another
// stream is a duplicate ("already used by another stream") whatever the
// content sent with it, the expected version and the other events of the
// batch: a reused idempotency key is only an id stored in the stream the
// request names, which a retry to that stream could repeat.
func testAnotherStreamsIDWhateverItsContent(t *testing.T, s eventstore.Store) {
	a, here := uuid.New(), uuid.New()
	theirs := withIDs(batch(1))[0]
	mustAppend(t, s, eventstore.AppendRequest{StreamID: a, StreamType: "one", Events: []eventstore.NewEvent{theirs}})
	ours := withIDs(batch(2))
	mustAppend(t, s, eventstore.AppendRequest{StreamID: here, StreamType: "one", Events: ours[:1]})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: here, StreamType: "one", Events: ours[1:]}) // ours[1] at version 2
	changed := func(change func(*eventstore.NewEvent)) eventstore.NewEvent {
		e := theirs
		change(&e)
		return e
	}
	otherData := changed(func(e *eventstore.NewEvent) { e.Data = []byte(`{"n":2}`) })
	otherType := changed(func(e *eventstore.NewEvent) { e.Type = "Other" })
	otherMeta := changed(func(e *eventstore.NewEvent) { e.Metadata = []byte(`{"m":1}`) })
	oursChanged := ours[1]
	oursChanged.Data = []byte(`{"changed":true}`)
	newStream := uuid.New()
	for name, req := range map[string]eventstore.AppendRequest{
		"the same event to a new stream":                        {StreamID: newStream, StreamType: "one", Events: []eventstore.NewEvent{theirs}},
		"other data to a new stream":                            {StreamID: newStream, StreamType: "one", Events: []eventstore.NewEvent{otherData}},
		"another type to a new stream":                          {StreamID: newStream, StreamType: "one", Events: []eventstore.NewEvent{otherType}},
		"other metadata to a new stream":                        {StreamID: newStream, StreamType: "one", Events: []eventstore.NewEvent{otherMeta}},
		"another stream_type to a new stream":                   {StreamID: newStream, StreamType: "two", Events: []eventstore.NewEvent{theirs}},
		"other data to an existing stream":                      {StreamID: here, Events: []eventstore.NewEvent{otherData}},
		"another stream_type to an existing stream":             {StreamID: here, StreamType: "two", Events: []eventstore.NewEvent{theirs}},
		"other data, If-None-Match *":                           {StreamID: newStream, StreamType: "one", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{otherData}},
		"other data, If-Match * on a new stream":                {StreamID: newStream, StreamType: "one", Expected: eventstore.StreamExists, Events: []eventstore.NewEvent{otherData}},
		"other data, If-Match the stream's version":             {StreamID: here, Expected: eventstore.Exactly(2), Events: []eventstore.NewEvent{otherData}},
		"other data, If-Match another version":                  {StreamID: here, Expected: eventstore.Exactly(7), Events: []eventstore.NewEvent{otherData}},
		"after a whole stored batch of this stream":             {StreamID: here, Events: []eventstore.NewEvent{ours[1], theirs}},
		"after an id stored here with other data":               {StreamID: here, Events: []eventstore.NewEvent{oursChanged, otherData}},
		"before an id stored here with other data":              {StreamID: here, Events: []eventstore.NewEvent{otherData, oursChanged}},
		"before an id stored here at another version, If-Match": {StreamID: here, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{theirs, ours[0]}},
	} {
		requireDuplicate(t, s, name, req, theirs.ID, false)
	}
	// An id stored here with other content, beside ids no stream holds, is
	// still a reused key: a retry to this stream could repeat it.
	var rerr *eventstore.IdempotencyKeyReusedError
	if _, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: here, Events: append(withIDs(batch(1)), oursChanged)}); !errors.As(err, &rerr) || rerr.EventID != ours[1].ID {
		t.Errorf("an id stored here with other data, after a new one: err = %v; want IdempotencyKeyReusedError naming %s", err, ours[1].ID)
	}
	requireLogLength(t, s, 3, "after refused requests, which write nothing")
}

// testConcurrentReusedIDs: requests with the same ids arriving together, some
// with other content, are decided in one order: one writes, those like it are
// retries, the others reuse its ids.
func testConcurrentReusedIDs(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	evs := withIDs(batch(2))
	changed := slices.Clone(evs)
	changed[1].Data = []byte(`{"changed":true}`)
	got := raceAppends(t, 12, eventstore.ErrIdempotencyKeyReused, func(i int) (eventstore.AppendResult, error) {
		req := eventstore.AppendRequest{StreamID: id, StreamType: "thing", Events: evs}
		if i%2 == 1 {
			req.Events = changed
		}
		return s.Append(ctx(t), req)
	})
	if got != (outcomes{written: 1, retries: 5, refused: 6}) {
		t.Errorf("12 concurrent appends, 6 of each content: %+v; want 1 written, 5 retries and 6 refused", got)
	}
	requireLogLength(t, s, 2, "after the concurrent appends")
}

func testConcurrentSameVersion(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(1)})
	const n = 50
	got := raceAppends(t, n, eventstore.ErrWrongExpectedVersion, func(int) (eventstore.AppendResult, error) {
		return s.Append(ctx(t), eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(1), Events: batch(2)})
	})
	if got != (outcomes{written: 1, refused: n - 1}) {
		t.Fatalf("%d appends racing on version 1: %+v; want exactly 1 written and the others refused", n, got)
	}
	if st, _ := s.Stream(ctx(t), id); st.Version != 3 {
		t.Fatalf("stream version = %d, want 3", st.Version)
	}
}

// testMixedGroup sends good and bad appends at the same moment, so that a
// group-committing store takes them into one transaction: only the bad ones
// may fail.
func testMixedGroup(t *testing.T, s eventstore.Store) {
	const n = 40
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
		mustAppend(t, s, eventstore.AppendRequest{StreamID: ids[i], Events: batch(1)})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			exp := eventstore.Exactly(1)
			if i%2 == 1 {
				exp = eventstore.Exactly(5) // wrong
			}
			_, err := s.Append(ctx(t), eventstore.AppendRequest{StreamID: ids[i], Expected: exp, Events: batch(2)})
			if i%2 == 0 && err != nil {
				t.Errorf("good append %d failed: %v", i, err)
			}
			if i%2 == 1 && !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Errorf("bad append %d: err = %v, want wrong expected version", i, err)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		want := int64(3)
		if i%2 == 1 {
			want = 1
		}
		if st, _ := s.Stream(ctx(t), id); st.Version != want {
			t.Errorf("stream %d at version %d, want %d", i, st.Version, want)
		}
	}
}

func testByteIdentical(t *testing.T, s eventstore.Store) {
	payloads := []string{
		`{"z":1,"a":2,"m":{"y":[3,2,1],"b":null}}`,
		`{ "spaced" :  [ 1 , 2 ] ,"tab":	"x" }`,
		`{"big":12345678901234567890,"neg":-0.000000000000000000001,"exp":1E400}`,
		`{"unicode":"grüße, 東京, 🎉","escaped":"\u00fc\n\"q\"\\","nul":"\u0000"}`,
		`"just a string"`, `42`, `null`, `true`, `[]`, `[{"a":[{"b":[{"c":{}}]}]}]`,
		"{\n  \"pretty\": true\n}",
		`{"html":"<script>&amp;</script>"}`,
		`{"dup":1,"dup":2}`,
	}
	id := uuid.New()
	evs := make([]eventstore.NewEvent, len(payloads))
	types := []string{"Payload", "Payload", "Other"}
	const meta = `{"k":"v","n":1.50}`
	for i, p := range payloads {
		evs[i] = eventstore.NewEvent{Type: types[i%3], Data: []byte(p)}
		if i%4 != 3 {
			evs[i].Metadata = []byte(meta)
		}
	}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: evs})
	got, _ := readStream(t, s, id, eventstore.ReadStreamOptions{})
	// The events of a page are the caller's: growing one's data must not
	// reach another's (stores may copy a page's data into shared blocks).
	for _, e := range got {
		_ = append(e.Data, `,"grown"`...)
		_ = append(e.Metadata, `,"grown"`...)
	}
	for i, e := range got {
		if string(e.Data) != payloads[i] {
			t.Errorf("data %d came back as %q, want %q", i, e.Data, payloads[i])
		}
		if wantMeta := string(evs[i].Metadata); string(e.Metadata) != wantMeta || (e.Metadata == nil) != (wantMeta == "") {
			t.Errorf("metadata %d came back as %q (nil %t), want %q", i, e.Metadata, e.Metadata == nil, wantMeta)
		}
		if e.Type != types[i%3] {
			t.Errorf("type %d came back as %q, want %q", i, e.Type, types[i%3])
		}
	}
	one, err := s.Event(ctx(t), id, 4)
	if err != nil || string(one.Data) != payloads[3] {
		t.Errorf("Event(4) = %q, %v; want %q", one.Data, err, payloads[3])
	}
}

func testReadStreamPaging(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(25)})
	evs, page := readStream(t, s, id, eventstore.ReadStreamOptions{Limit: 10})
	if !slices.Equal(versions(evs), seq(1, 10)) || page.Next != 11 || page.Stream.Version != 25 {
		t.Fatalf("first forward page: versions %v next %d, want 1..10 next 11", versions(evs), page.Next)
	}
	evs, page = readStream(t, s, id, eventstore.ReadStreamOptions{From: 21, Limit: 10})
	if !slices.Equal(versions(evs), seq(21, 25)) || page.Next != 0 {
		t.Fatalf("last forward page: versions %v next %d, want 21..25 next 0", versions(evs), page.Next)
	}
	evs, page = readStream(t, s, id, eventstore.ReadStreamOptions{From: 26})
	if len(evs) != 0 || page.Next != 0 {
		t.Fatalf("page past the end: versions %v next %d, want none", versions(evs), page.Next)
	}
	evs, page = readStream(t, s, id, eventstore.ReadStreamOptions{Direction: eventstore.Backward, Limit: 10})
	if !slices.Equal(versions(evs), seq(25, 16)) || page.Next != 15 {
		t.Fatalf("first backward page: versions %v next %d, want 25..16 next 15", versions(evs), page.Next)
	}
	evs, page = readStream(t, s, id, eventstore.ReadStreamOptions{Direction: eventstore.Backward, From: 5, Limit: 10})
	if !slices.Equal(versions(evs), seq(5, 1)) || page.Next != 0 {
		t.Fatalf("last backward page: versions %v next %d, want 5..1 next 0", versions(evs), page.Next)
	}
	// Walk the whole stream forward in pages of 7.
	var all []int64
	for from := int64(1); from != 0; {
		evs, page = readStream(t, s, id, eventstore.ReadStreamOptions{From: from, Limit: 7})
		all = append(all, versions(evs)...)
		from = page.Next
	}
	if !slices.Equal(all, seq(1, 25)) {
		t.Fatalf("paging forward by 7 gave %v, want 1..25", all)
	}
}

// seq returns a..b inclusive, counting down when b < a.
func seq(a, b int64) []int64 {
	var out []int64
	step := int64(1)
	if b < a {
		step = -1
	}
	for v := a; ; v += step {
		out = append(out, v)
		if v == b {
			return out
		}
	}
}

func testEventByVersion(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	res := mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: batch(3)})
	e, err := s.Event(ctx(t), id, 2)
	if err != nil || e.Version != 2 || e.ID != res.Events[1].ID || e.Position != res.Events[1].Position {
		t.Fatalf("Event(2) = %+v, %v; want the second appended event", e, err)
	}
	for _, v := range []int64{0, 4, -1} {
		if _, err := s.Event(ctx(t), id, v); !errors.Is(err, eventstore.ErrEventNotFound) {
			t.Errorf("Event(%d) err = %v, want ErrEventNotFound", v, err)
		}
	}
	if _, err := s.Event(ctx(t), uuid.New(), 1); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Errorf("Event of an unknown stream: err = %v, want ErrEventNotFound", err)
	}
}

// testEventPositionByVersion: EventPosition is the position of the event
// Event reads, a large one's too, and ErrEventNotFound where Event says so.
func testEventPositionByVersion(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(2)}) // positions not versions
	large := eventstore.NewEvent{Type: "Large", Data: []byte(`"` + strings.Repeat("x", 600_000) + `"`)}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: id, Events: append(batch(2), large)})
	for v := int64(1); v <= 3; v++ {
		e, err := s.Event(ctx(t), id, v)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.EventPosition(ctx(t), id, v); err != nil || p != e.Position {
			t.Errorf("EventPosition(%d) = %d, %v; want %d, the position of the event Event reads", v, p, err, e.Position)
		}
	}
	for _, v := range []int64{0, 4, -1} {
		if _, err := s.EventPosition(ctx(t), id, v); !errors.Is(err, eventstore.ErrEventNotFound) {
			t.Errorf("EventPosition(%d) err = %v, want ErrEventNotFound", v, err)
		}
	}
	if _, err := s.EventPosition(ctx(t), uuid.New(), 1); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Errorf("EventPosition of an unknown stream: err = %v, want ErrEventNotFound", err)
	}
}

func testReadAll(t *testing.T, s eventstore.Store) {
	order, invoice := uuid.New(), uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: order, StreamType: "order", Events: []eventstore.NewEvent{
		{Type: "Placed", Data: []byte(`1`)}, {Type: "Paid", Data: []byte(`2`)}}})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: invoice, StreamType: "invoice", Events: []eventstore.NewEvent{
		{Type: "Issued", Data: []byte(`3`)}, {Type: "Paid", Data: []byte(`4`)}}})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: order, StreamType: "order", Events: []eventstore.NewEvent{{Type: "Shipped", Data: []byte(`5`)}}})

	read := func(opts eventstore.ReadAllOptions) ([]string, eventstore.LogPage) {
		t.Helper()
		page, err := s.ReadAll(ctx(t), opts)
		if err != nil {
			t.Fatalf("ReadAll(%+v): %v", opts, err)
		}
		var data []string
		last := int64(0)
		for _, e := range collect(t, page.Events) {
			if e.Position <= last {
				t.Fatalf("positions out of order: %d after %d", e.Position, last)
			}
			last = e.Position
			data = append(data, string(e.Data))
		}
		return data, page
	}
	all, page := read(eventstore.ReadAllOptions{})
	if !slices.Equal(all, []string{"1", "2", "3", "4", "5"}) || page.More {
		t.Fatalf("whole log = %v more=%v, want 1..5 in commit order and no more", all, page.More)
	}
	first, page := read(eventstore.ReadAllOptions{Limit: 2})
	if !slices.Equal(first, []string{"1", "2"}) || !page.More {
		t.Fatalf("first page of 2 = %v more=%v, want [1 2] and more", first, page.More)
	}
	// The page's first event only (HEAD): its Last and More as the page's.
	// That event is read, not skipped: a HEAD fails, as its GET does, where
	// it cannot be read.
	if head, headPage := read(eventstore.ReadAllOptions{Limit: 2, FirstOnly: true}); !slices.Equal(head, []string{"1"}) ||
		headPage.Last != page.Last || !headPage.More {
		t.Fatalf("first page of 2, its first event only = %v last=%d more=%v, want [1], last %d and more", head, headPage.Last, headPage.More, page.Last)
	}
	rest, page := read(eventstore.ReadAllOptions{After: page.Last, Limit: 10})
	if !slices.Equal(rest, []string{"3", "4", "5"}) || page.More {
		t.Fatalf("after %d = %v, want [3 4 5]", page.Last, rest)
	}
	empty, page := read(eventstore.ReadAllOptions{After: page.Last})
	if len(empty) != 0 || page.More {
		t.Fatalf("after the last position = %v more=%v, want nothing", empty, page.More)
	}
	filters := []struct {
		opts eventstore.ReadAllOptions
		want []string
	}{
		{eventstore.ReadAllOptions{StreamTypes: []string{"order"}}, []string{"1", "2", "5"}},
		{eventstore.ReadAllOptions{EventTypes: []string{"Paid"}}, []string{"2", "4"}},
		{eventstore.ReadAllOptions{EventTypes: []string{"Paid", "Shipped"}, StreamTypes: []string{"order"}}, []string{"2", "5"}},
		{eventstore.ReadAllOptions{StreamTypes: []string{"order", "invoice"}, EventTypes: []string{"Issued"}}, []string{"3"}},
		{eventstore.ReadAllOptions{StreamTypes: []string{"ORDER"}}, nil},
	}
	for _, f := range filters {
		if got, _ := read(f.opts); !slices.Equal(got, f.want) {
			t.Errorf("ReadAll(%+v) = %v, want %v", f.opts, got, f.want)
		}
	}
	got, page := read(eventstore.ReadAllOptions{StreamTypes: []string{"order"}, Limit: 2})
	if !slices.Equal(got, []string{"1", "2"}) || !page.More {
		t.Fatalf("filtered page of 2 = %v more=%v, want [1 2] and more", got, page.More)
	}
	head, headPage := read(eventstore.ReadAllOptions{StreamTypes: []string{"order"}, Limit: 2, FirstOnly: true})
	if !slices.Equal(head, []string{"1"}) || headPage.Last != page.Last || !headPage.More {
		t.Fatalf("filtered page of 2, its first event only = %v last=%d more=%v, want [1], last %d and more", head, headPage.Last, headPage.More, page.Last)
	}
	if got, page = read(eventstore.ReadAllOptions{StreamTypes: []string{"order"}, After: page.Last}); !slices.Equal(got, []string{"5"}) || page.More {
		t.Fatalf("filtered second page = %v more=%v, want [5] and no more", got, page.More)
	}
}

func testListStreams(t *testing.T, s eventstore.Store) {
	var orders []uuid.UUID
	for i := range 7 {
		id := uuid.New()
		typ := "order"
		if i%3 == 0 {
			typ = "invoice"
		} else {
			orders = append(orders, id)
		}
		mustAppend(t, s, eventstore.AppendRequest{StreamID: id, StreamType: typ, Events: batch(i + 1)})
	}
	slices.SortFunc(orders, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	var got []uuid.UUID
	after := uuid.Nil
	for range 10 {
		list, err := s.ListStreams(ctx(t), eventstore.ListStreamsOptions{StreamTypes: []string{"order"}, After: after, Limit: 2})
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		for _, st := range list.Streams {
			if st.Type != "order" || st.Version < 1 {
				t.Errorf("listed %+v, want an order stream with a version", st)
			}
			got = append(got, st.ID)
		}
		if !list.More {
			break
		}
		after = list.Streams[len(list.Streams)-1].ID
	}
	if !slices.Equal(got, orders) {
		t.Fatalf("order streams listed in pages of 2 = %v, want %v (sorted by id)", got, orders)
	}
	list, err := s.ListStreams(ctx(t), eventstore.ListStreamsOptions{})
	if err != nil || len(list.Streams) != 7 || list.More {
		t.Fatalf("ListStreams() = %d streams more=%v err=%v, want all 7", len(list.Streams), list.More, err)
	}
}

func testInvalidAppend(t *testing.T, s eventstore.Store) {
	id := uuid.New()
	dupID := uuid.New()
	cases := map[string]eventstore.AppendRequest{
		"no events":          {StreamID: id, StreamType: "thing"},
		"nil stream id":      {StreamType: "thing", Events: batch(1)},
		"bad stream type":    {StreamID: id, StreamType: "1abc", Events: batch(1)},
		"empty event type":   {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Data: []byte(`1`)}}},
		"missing data":       {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Type: "T"}}},
		"data not json":      {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Type: "T", Data: []byte(`{oops`)}}},
		"metadata not obj":   {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Type: "T", Data: []byte(`1`), Metadata: []byte(`[1]`)}}},
		"invalid utf-8":      {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Type: "T", Data: []byte("\"\xff\"")}}},
		"id twice in batch":  {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{ID: dupID, Type: "T", Data: []byte(`1`)}, {ID: dupID, Type: "T", Data: []byte(`2`)}}},
		"unicode event type": {StreamID: id, StreamType: "thing", Events: []eventstore.NewEvent{{Type: "Bestellung_über", Data: []byte(`1`)}}},
	}
	for name, req := range cases {
		if _, err := s.Append(ctx(t), req); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Stream(ctx(t), id); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("invalid appends created the stream: %v", err)
	}
}

// testPollingReader is how subscriptions read the log: poll for positions
// after the last one seen. With writers committing concurrently it must still
// see every event exactly once, in order.
func testPollingReader(t *testing.T, s eventstore.Store) {
	const writers, appends = 8, 25
	c := ctx(t)
	stop := make(chan struct{})
	seen := make(map[int64]uuid.UUID)
	var order []int64
	readerDone := make(chan error, 1)
	go func() {
		last := int64(0)
		for {
			// Once the writers are done, read on until the log is drained.
			stopped := isClosed(stop)
			page, err := s.ReadAll(c, eventstore.ReadAllOptions{After: last, Limit: 50})
			if err != nil {
				readerDone <- err
				return
			}
			for e, err := range page.Events {
				if err != nil {
					readerDone <- err
					return
				}
				if e.Position <= last {
					readerDone <- fmt.Errorf("position %d after %d: out of order or repeated", e.Position, last)
					return
				}
				last = e.Position
				seen[e.Position] = e.ID
				order = append(order, e.Position)
			}
			if stopped && !page.More {
				readerDone <- nil
				return
			}
		}
	}()
	var mu sync.Mutex
	acked := make(map[uuid.UUID]int64)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				res, err := s.Append(c, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Events: batch(1 + (w+i)%3)})
				if err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				mu.Lock()
				for _, r := range res.Events {
					acked[r.ID] = r.Position
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatalf("polling reader: %v", err)
	}
	for id, pos := range acked {
		if seen[pos] != id {
			t.Errorf("acknowledged event %s at position %d was not seen by the reader", id, pos)
		}
	}
	if len(order) != len(acked) {
		t.Errorf("reader saw %d events, writers acknowledged %d", len(order), len(acked))
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// testQueuedBehindACommit holds one append's transaction open while others
// queue behind it, some of which its commit decides: a store may take the
// queued ones into one group and begin its transaction before, or with, the
// held one's COMMIT, but every check must see that commit. The queued
// appends are given a moment to queue; one that comes later lands in a later
// group, with the same outcome.
func testQueuedBehindACommit(t *testing.T, b Backend) {
	s := b.Open(t)
	c := ctx(t)
	x, y := uuid.New(), uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: x, Events: batch(1)})
	mustAppend(t, s, eventstore.AppendRequest{StreamID: y, Events: batch(1)})
	held, release := holdFirstCommit(b, s)
	first := eventstore.AppendRequest{StreamID: x, Expected: eventstore.Exactly(1), Events: withIDs(batch(1))}
	firstDone := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := s.Append(c, first)
		if err != nil {
			t.Errorf("held append: %v", err)
		}
		firstDone <- res
	}()
	<-held

	type result struct {
		res eventstore.AppendResult
		err error
	}
	queued := []eventstore.AppendRequest{
		{StreamID: x, Expected: eventstore.Exactly(2), Events: batch(1)}, // after the held one: written
		{StreamID: x, Expected: eventstore.Exactly(1), Events: batch(1)}, // the held one's version: refused
		first, // its retry: the held one's result
		{StreamID: y, Expected: eventstore.Exactly(1), Events: batch(2)}, // these two race: one written
		{StreamID: y, Expected: eventstore.Exactly(1), Events: batch(2)},
	}
	results := make([]result, len(queued))
	var wg sync.WaitGroup
	for i, req := range queued {
		wg.Go(func() {
			res, err := s.Append(c, req)
			results[i] = result{res, err}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them queue; see above
	close(release)
	wg.Wait()
	held1 := <-firstDone
	if t.Failed() {
		return
	}

	if r := results[0]; r.err != nil || r.res.Duplicate || r.res.Events[0].Version != 3 {
		t.Errorf("append at the held one's new version: %+v, %v; want written at version 3", r.res, r.err)
	}
	if r := results[1]; !errors.Is(r.err, eventstore.ErrWrongExpectedVersion) {
		t.Errorf("append at the version the held one took: %v; want %v", r.err, eventstore.ErrWrongExpectedVersion)
	}
	if r := results[2]; r.err != nil || !r.res.Duplicate || r.res.Events[0].Position != held1.Events[0].Position {
		t.Errorf("retry of the held append: %+v, %v; want a duplicate at position %d", r.res, r.err, held1.Events[0].Position)
	}
	written, refused := 0, 0
	for _, r := range results[3:] {
		switch {
		case r.err == nil && !r.res.Duplicate:
			written++
		case errors.Is(r.err, eventstore.ErrWrongExpectedVersion):
			refused++
		default:
			t.Errorf("append racing on one version: %+v, %v; want written or %v", r.res, r.err, eventstore.ErrWrongExpectedVersion)
		}
	}
	if written != 1 || refused != 1 {
		t.Errorf("two appends at one version: %d written, %d refused; want one each", written, refused)
	}
	if evs, _ := readStream(t, s, x, eventstore.ReadStreamOptions{}); !slices.Equal(versions(evs), seq(1, 3)) {
		t.Errorf("stream versions %v, want %v", versions(evs), seq(1, 3))
	}
	page, err := s.ReadAll(c, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var positions []int64
	for e, err := range page.Events {
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, e.Position)
	}
	if want := seq(1, 6); !slices.Equal(positions, want) {
		t.Errorf("log positions %v, want %v: every written event once, in order, no gaps", positions, want)
	}
}

// openTwice opens a store, and a second process's on the same database
// where the backend has one (OpenAgain); else the same store twice.
func openTwice(t *testing.T, b Backend) (a, other eventstore.Store) {
	a = b.Open(t)
	if b.OpenAgain == nil {
		return a, a
	}
	return a, b.OpenAgain(t, a)
}

// testHeldTransaction is the case that breaks stores which take positions
// from AUTO_INCREMENT: transaction A holds position N and has not committed;
// transaction B, started later, must not become visible at N+1 before A, or a
// reader polling "position > last" would move past N for ever. With a second
// process available, B comes through it.
func testHeldTransaction(t *testing.T, b Backend) {
	a, other := openTwice(t, b)
	c := ctx(t)
	held, release := holdFirstCommit(b, a)
	appendOne := func(s eventstore.Store, done chan<- eventstore.AppendResult) {
		res, err := s.Append(c, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Events: batch(1)})
		if err != nil {
			t.Errorf("append: %v", err)
		}
		done <- res
	}
	aDone, bDone := make(chan eventstore.AppendResult, 1), make(chan eventstore.AppendResult, 1)
	go appendOne(a, aDone)
	<-held
	go appendOne(other, bDone)

	// While A holds its transaction open, a reader sees nothing and B
	// cannot commit ahead of A.
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		if n := logLength(t, other); n != 0 {
			t.Fatalf("reader saw %d events while the first transaction was uncommitted, want none", n)
		}
		select {
		case res := <-bDone:
			t.Fatalf("a later append committed at position %d while an earlier one was still open", res.Events[0].Position)
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(release)
	resA, resB := <-aDone, <-bDone
	if t.Failed() {
		return
	}
	if resA.Events[0].Position >= resB.Events[0].Position {
		t.Fatalf("positions: held %d, later %d; want the held one first", resA.Events[0].Position, resB.Events[0].Position)
	}
	page, err := other.ReadAll(c, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, page.Events)
	if len(evs) != 2 || evs[0].Position != resA.Events[0].Position || evs[1].Position != resB.Events[0].Position {
		t.Fatalf("reader saw %d events, want both in commit order", len(evs))
	}
}

// testSeveralProcesses races appends through several stores on one database,
// as several service processes would: expected versions still hold.
// testHoles: a log read that meets a missing position below visible ones
// (a commit a moment behind a later one) answers only what lies before it,
// with more to come, until the position appears; a hole whose next event is
// old is rows removed by hand, and is read past.
func testHoles(t *testing.T, b Backend) {
	if b.VisibleInCommitOrder {
		t.Skip("this store shows commits in commit order: a hole is never a commit on its way")
	}
	s := b.Open(t)
	mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(2)}) // positions 1, 2
	const row = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES (?, ?, ?, 1, 'thing', 'Late', '{}', ?)"
	id := func() []byte { u := uuid.New(); return u[:] }
	// readLog reads a page after after twice: with a limit of 1,000 and of
	// 10, which a store may serve differently (positions first, while it
	// knows no better, as in the first call here, or one query for a page
	// of small events); both must answer the same.
	readLog := func(after int64) (eventstore.LogPage, []eventstore.Event) {
		t.Helper()
		var pages [2]eventstore.LogPage
		var evs [2][]eventstore.Event
		for i, limit := range []int{1000, 10} {
			page, err := s.ReadAll(ctx(t), eventstore.ReadAllOptions{After: after, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			pages[i], evs[i] = page, collect(t, page.Events)
		}
		if pages[0].Last != pages[1].Last || pages[0].More != pages[1].More || fmt.Sprint(positionsOf(evs[0])) != fmt.Sprint(positionsOf(evs[1])) {
			t.Fatalf("after %d: a page of 1,000 is %v (last %d, more %t), one of 10 %v (last %d, more %t); want the same",
				after, positionsOf(evs[0]), pages[0].Last, pages[0].More, positionsOf(evs[1]), pages[1].Last, pages[1].More)
		}
		return pages[0], evs[0]
	}
	// Position 4 is visible, 3 is not yet. The head moves with the commit
	// of 4, as an append's does (a page refuses an event past the head as
	// damage).
	b.Exec(t, s, row, 4, id(), id(), time.Now().UTC())
	b.Exec(t, s, "UPDATE log_head SET position = 4 WHERE id = 1")
	page, evs := readLog(0)
	if len(evs) != 2 || page.Last != 2 || !page.More {
		t.Fatalf("with position 3 missing below 4: read %d events, last %d, more %t; want positions 1 and 2, last 2, more", len(evs), page.Last, page.More)
	}
	b.Exec(t, s, row, 3, id(), id(), time.Now().UTC())
	page, evs = readLog(0)
	if len(evs) != 4 || page.Last != 4 {
		t.Fatalf("once position 3 is there: read %d events, last %d; want 4, last 4", len(evs), page.Last)
	}
	// A hole below an old event is not a commit on its way.
	b.Exec(t, s, row, 6, id(), id(), time.Now().UTC().Add(-time.Minute/2))
	b.Exec(t, s, "UPDATE log_head SET position = 6 WHERE id = 1")
	page, evs = readLog(4)
	if len(evs) != 1 || page.Last != 6 {
		t.Fatalf("past a hole below a 30 s old event: read %d events, last %d; want position 6", len(evs), page.Last)
	}

	// A stream whose last event is visible while a position below it is
	// not: its read waits for the hole to fill rather than answer without it.
	b.Exec(t, s, "UPDATE log_head SET position = 6 WHERE id = 1") // the rows above were written behind the store's back
	stream := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: stream, Events: batch(1)}) // position 7
	b.Exec(t, s, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES (9, ?, ?, 2, 'thing', 'Late', '{}', ?)",
		id(), stream[:], time.Now().UTC())
	b.Exec(t, s, "UPDATE log_head SET position = 9 WHERE id = 1")
	// filling is set before the row goes in: a read that answers while it
	// is not set answered while position 8 was surely missing. (Whether
	// the fill had ended cannot say: on a busy machine, the read may start
	// only once the row is in, and answer before the filler goes on.)
	var filling atomic.Bool
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		time.Sleep(100 * time.Millisecond)
		filling.Store(true)
		b.Exec(t, s, row, 8, id(), id(), time.Now().UTC())
	}()
	_, page2 := readStream(t, s, stream, eventstore.ReadStreamOptions{})
	if !filling.Load() {
		t.Fatalf("a stream read answered while position 8, below its last event's 9, was missing; want it to wait")
	}
	<-filled
	if page2.Stream.Version != 2 {
		t.Fatalf("stream version %d, want 2", page2.Stream.Version)
	}

	// A stream last written to long ago is read at once, whatever is
	// missing below it: an old hole is rows removed by hand, not a commit
	// on its way (and reads of old streams skip looking for holes).
	old := uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: old, Events: batch(1)}) // position 10
	long := time.Now().UTC().Add(-10 * time.Minute)
	b.Exec(t, s, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES (12, ?, ?, 2, 'thing', 'Late', '{}', ?)",
		id(), old[:], long)
	b.Exec(t, s, "UPDATE log_head SET position = 12 WHERE id = 1") // position 11 never comes
	if _, page3 := readStream(t, s, old, eventstore.ReadStreamOptions{}); page3.Stream.Version != 2 {
		t.Fatalf("an old stream with a hole below its last event: version %d, want 2", page3.Stream.Version)
	}
}

// testMixedSizes: a store reads a page in chunks, sized by the events it has
// seen, so that a page of large events is never all in memory at once. A
// page of small events, then large ones, then small ones again, read
// forwards, backwards and through the log, has every event once, in order,
// whole, wherever the chunks end.
func testMixedSizes(t *testing.T, b Backend) {
	s := b.Open(t)
	stream := uuid.New()
	var want [][]byte
	add := func(n, size int) {
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			data := fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, len(want)+i, strings.Repeat("x", size))
			evs[i] = eventstore.NewEvent{Type: "Sized", Data: data}
		}
		mustAppend(t, s, eventstore.AppendRequest{StreamID: stream, Events: evs})
		for _, e := range evs {
			want = append(want, e.Data)
		}
	}
	add(300, 10)     // small: the first chunk learns they are small
	add(12, 300_000) // then about 3.6 MB in a dozen events
	add(300, 10)     // and small again
	check := func(what string, got []eventstore.Event, from int, step int) {
		t.Helper()
		for i, e := range got {
			k := from + i*step
			if k < 0 || k >= len(want) || !bytes.Equal(e.Data, want[k]) {
				t.Fatalf("%s: event %d (version %d) is not the event written at version %d", what, i, e.Version, k+1)
			}
		}
	}
	for from := int64(1); from <= int64(len(want)); {
		got, page := readStream(t, s, stream, eventstore.ReadStreamOptions{From: from, Limit: 1000})
		check(fmt.Sprintf("stream from %d", from), got, int(from-1), 1)
		if page.Next == 0 {
			if int(from)-1+len(got) != len(want) {
				t.Fatalf("stream read ended at %d events of %d", int(from)-1+len(got), len(want))
			}
			break
		}
		from = page.Next
	}
	got, _ := readStream(t, s, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backward, Limit: 1000})
	check("stream backwards", got, len(want)-1, -1)
	if len(got) != len(want) {
		t.Fatalf("backwards: read %d events of %d", len(got), len(want))
	}
	page, err := s.ReadAll(ctx(t), eventstore.ReadAllOptions{StreamID: stream, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got = collect(t, page.Events)
	check("the log", got, 0, 1)
	if len(got) != len(want) {
		t.Fatalf("the log: read %d events of %d", len(got), len(want))
	}
}

// testUniqueKeyViolation: when a row written behind the store's back takes
// the position or the stream version an append was about to use, the append
// fails without writing anything, and the error is not a conflict of the
// client's making (a wrong expected version or a duplicate id) but the
// store's own.
func testUniqueKeyViolation(t *testing.T, b Backend) {
	s := b.Open(t)
	mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(1)})
	const rogue = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES (?, ?, ?, 1, 'thing', 'Rogue', '{}', ?)"
	bytes := func(id uuid.UUID) []byte { return id[:] }
	b.Exec(t, s, rogue, 2, bytes(uuid.New()), bytes(uuid.New()), time.Now().UTC())
	victim := uuid.New()
	b.Exec(t, s, rogue, 1000, bytes(uuid.New()), bytes(victim), time.Now().UTC())
	cases := map[string]eventstore.AppendRequest{
		"the next position is taken":      {StreamID: uuid.New(), StreamType: "thing", Events: batch(1)},
		"the stream's version 1 is taken": {StreamID: victim, StreamType: "thing", Expected: eventstore.NoStream, Events: batch(1)},
	}
	for name, req := range cases {
		_, err := s.Append(ctx(t), req)
		if err == nil || errors.Is(err, eventstore.ErrWrongExpectedVersion) || errors.Is(err, eventstore.ErrDuplicateEventID) {
			t.Errorf("%s: err = %v; want the store's own error, not a client's conflict", name, err)
		}
	}
	if head, err := s.Head(ctx(t)); err != nil || head != 1 {
		t.Errorf("head after the failed appends = %d (%v), want 1: nothing written", head, err)
	}
}

func testSeveralProcesses(t *testing.T, b Backend) {
	if b.OpenAgain == nil {
		t.Skip("this store serves one process per database")
	}
	first := b.Open(t)
	stores := []eventstore.Store{first, b.OpenAgain(t, first), b.OpenAgain(t, first)}
	c := ctx(t)
	stream := uuid.New()
	mustAppend(t, first, eventstore.AppendRequest{StreamID: stream, Events: batch(1)})
	got := raceAppends(t, 45, eventstore.ErrWrongExpectedVersion, func(i int) (eventstore.AppendResult, error) {
		return stores[i%3].Append(c, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1), Events: batch(1)})
	})
	if got != (outcomes{written: 1, refused: 44}) {
		t.Fatalf("45 appends on version 1 through 3 processes: %+v; want 1 written and 44 refused", got)
	}

	// Each process stamps the events it writes; along the log, the times
	// never decrease, whichever process wrote them.
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			mustAppend(t, stores[i%3], eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(2)})
		})
	}
	wg.Wait()
	page, err := first.ReadAll(c, eventstore.ReadAllOptions{Limit: eventstore.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var prev eventstore.Event
	for _, e := range collect(t, page.Events) {
		if e.RecordedAt.Before(prev.RecordedAt) {
			t.Errorf("position %d is recorded at %s, before position %d at %s", e.Position, e.RecordedAt.Format(time.RFC3339Nano),
				prev.Position, prev.RecordedAt.Format(time.RFC3339Nano))
		}
		prev = e
	}
}

// testRetryRacingItsOriginal: a client whose append seems lost (a timeout,
// a dropped connection) sends it again at once, and the retry may reach
// another process (the same one, for a store that serves one) while the
// original commits. However the two meet, one is written and the other is
// answered as its retry, with its result: never a conflict with itself (a
// wrong expected version, a duplicate id). The tightest meeting is a retry
// that waits for the log's lock while the original holds it: every read it
// makes once the lock is its own, the known ids' as much as the stream's,
// must see the original's commit. It is a race, so it runs many times,
// bounded in count and time.
func testRetryRacingItsOriginal(t *testing.T, b Backend) {
	a, other := openTwice(t, b)
	c := ctx(t)
	const races = 200
	var first error
	ran, failed := 0, 0
	for deadline := time.Now().Add(2 * time.Second); ran < races && time.Now().Before(deadline); ran++ {
		req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream, Events: withIDs(batch(2))}
		var res [2]eventstore.AppendResult
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range []eventstore.Store{a, other} {
			wg.Go(func() {
				<-start
				res[i], errs[i] = s.Append(c, req)
			})
		}
		close(start)
		wg.Wait()
		err := errors.Join(errs[:]...)
		if err == nil && res[0].Duplicate == res[1].Duplicate {
			err = fmt.Errorf("duplicate %t and %t; want one written and one replayed", res[0].Duplicate, res[1].Duplicate)
		}
		if err == nil && !slices.EqualFunc(res[0].Events, res[1].Events, sameRecorded) {
			err = fmt.Errorf("the replay answered %+v; the original %+v", res[0].Events, res[1].Events)
		}
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d appends raced by their retry through another process failed; want one written and one replayed "+
			"each time. The first: %v", failed, ran, first)
	}
	t.Logf("%d races", ran)
	requireLogLength(t, a, 2*ran, "after the races, each of which writes its batch once")
}

// testTailReadsTheLog: the live feed's tail reads the same pages of the log,
// and the same head, as a client's reads.
func testTailReadsTheLog(t *testing.T, s eventstore.Store) {
	for i := range 3 {
		mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(i + 2)})
	}
	tail := s.Tail()
	for _, opts := range []eventstore.ReadAllOptions{{}, {Limit: 4}, {After: 4, Limit: 4}, {After: 8, Limit: 4}, {After: 9}, {After: 2, UpTo: 6}} {
		want, err := s.ReadAll(ctx(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tail.ReadAll(ctx(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		w, g := collect(t, want.Events), collect(t, got.Events)
		if got.Last != want.Last || got.More != want.More || !slices.EqualFunc(g, w, func(a, b eventstore.Event) bool {
			return a.ID == b.ID && a.Position == b.Position && bytes.Equal(a.Data, b.Data)
		}) {
			t.Errorf("%+v: the tail read %d events (last %d, more %t); ReadAll %d (last %d, more %t)",
				opts, len(g), got.Last, got.More, len(w), want.Last, want.More)
		}
	}
	h1, err1 := s.Head(ctx(t))
	h2, err2 := tail.Head(ctx(t))
	if err := errors.Join(err1, err2); err != nil || h1 != 9 || h2 != 9 {
		t.Errorf("heads: store %d, tail %d (%v); want 9", h1, h2, err)
	}
}

// testTailIDAt: the tail's IDAt is the id of the event at a position, as
// ReadAll reads it, a large event's too, and uuid.Nil where no event is:
// before the first and after the last.
func testTailIDAt(t *testing.T, s eventstore.Store) {
	tail := s.Tail()
	for _, p := range []int64{0, 1} {
		if id, err := tail.IDAt(ctx(t), p); err != nil || id != uuid.Nil {
			t.Errorf("IDAt(%d) of an empty log = %v, %v; want uuid.Nil, no error", p, id, err)
		}
	}
	large := eventstore.NewEvent{Type: "Large", Data: []byte(`"` + strings.Repeat("x", 600_000) + `"`)}
	for i := range 3 {
		mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Events: append(batch(i+1), large)})
	}
	page, err := s.ReadAll(ctx(t), eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := collect(t, page.Events)
	if len(events) != 9 {
		t.Fatalf("the log holds %d events; want 9", len(events))
	}
	for _, e := range events {
		if id, err := tail.IDAt(ctx(t), e.Position); err != nil || id != e.ID {
			t.Errorf("IDAt(%d) = %v, %v; want %v, the id ReadAll read there", e.Position, id, err, e.ID)
		}
	}
	for _, p := range []int64{0, 10, 1000} {
		if id, err := tail.IDAt(ctx(t), p); err != nil || id != uuid.Nil {
			t.Errorf("IDAt(%d) of a log of 9 events = %v, %v; want uuid.Nil, no error", p, id, err)
		}
	}
}

// mendHead is the repair that the damage of a log_head behind its events
// names (isHeadBehind); the tests below run it to mend the head.
const mendHead = "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1"

// isHeadBehind reports whether err is the damage of a log_head behind its
// events: ErrHeadBehind, with ErrDamaged and ErrUnavailable (no retry
// mends it), naming log_head and its repair, mendHead.
func isHeadBehind(err error) bool {
	return errors.Is(err, eventstore.ErrHeadBehind) && errors.Is(err, eventstore.ErrDamaged) && errors.Is(err, eventstore.ErrUnavailable) &&
		strings.Contains(err.Error(), "log_head") && strings.Contains(err.Error(), mendHead)
}

// testTailPastTheHead: with log_head behind its events (edited by hand,
// tables restored from dumps taken apart), a read of the tail that meets
// an event past the head fails with that damage (ErrHeadBehind, with
// ErrDamaged and ErrUnavailable: no retry mends it), naming log_head and
// the repair: the live feed handed such events out as live ones, which
// the next appends' positions would take. What lies up to the head reads
// as before, and once the head is mended, the rest does too.
func testTailPastTheHead(t *testing.T, b Backend) {
	s := b.Open(t)
	for range 5 {
		mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(1)})
	}
	b.Exec(t, s, "UPDATE log_head SET position = position - 2 WHERE id = 1")
	tail := s.Tail()
	for _, opts := range []eventstore.ReadAllOptions{{After: 2}, {After: 3}, {After: 0, Limit: 3}} {
		_, err := tail.ReadAll(ctx(t), opts)
		if !isHeadBehind(err) {
			t.Errorf("%+v, log_head at 3 behind events up to 5: the tail's read said %v; want the damage (ErrHeadBehind, ErrDamaged, ErrUnavailable) naming log_head and its repair", opts, err)
		}
	}
	// Up to the head (two events, and the one more that says more follow).
	page, err := tail.ReadAll(ctx(t), eventstore.ReadAllOptions{After: 0, Limit: 2})
	if err != nil || !page.More || fmt.Sprint(positionsOf(collect(t, page.Events))) != "[1 2]" {
		t.Errorf("a page of 2 from the start, log_head at 3: %v; want positions 1 and 2, more to follow", err)
	}
	b.Exec(t, s, mendHead)
	page, err = tail.ReadAll(ctx(t), eventstore.ReadAllOptions{After: 2})
	if err != nil {
		t.Fatalf("the tail's read after 2, the head mended: %v; want positions 3 to 5", err)
	}
	if got := fmt.Sprint(positionsOf(collect(t, page.Events))); got != "[3 4 5]" {
		t.Errorf("the tail's read after 2, the head mended: positions %s; want [3 4 5]", got)
	}
}

// testDroppedIndex: the reads of the log filtered on several stream or
// event types name the index they read (MySQL's FORCE INDEX, SQLite's
// INDEXED BY). One dropped while the store runs (by hand, in a shell) made
// each such read fail: on MySQL with Error 1176 "Key … doesn't exist", a
// 500, Ping passing; on SQLite with an unavailable 503 that named nothing a
// client could act on. Each is now the missing error (MissingError,
// unavailable) naming the index and the statement that makes it again, a
// read's and Ping's alike, until that statement is run.
//
// Ping's is a partial finding, which /readyz answers 200 with, naming the
// index (every instance on the database lacks it alike: a 503 took them all
// out of their load balancer, a whole outage for what fails only the
// filtered reads). So Ping returns it only once every other check passed:
// it ended Ping at the index, and a head behind its events (every append
// refused) went unsaid behind it; with both, Ping is the damage.
func testDroppedIndex(t *testing.T, b Backend) {
	for _, c := range []struct {
		index string
		read  eventstore.ReadAllOptions
	}{
		{"events_stream_type_event_type_position", eventstore.ReadAllOptions{Limit: 10, StreamTypes: []string{"thing", "other"}, EventTypes: []string{"Happened", "Else"}}},
		{"events_stream_type_position", eventstore.ReadAllOptions{Limit: 10, StreamTypes: []string{"thing", "other"}}},
		{"events_event_type_position", eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Happened", "Else"}}},
	} {
		t.Run(c.index, func(t *testing.T) {
			t.Parallel()
			s := b.Open(t)
			mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(3)})
			read := func() error {
				page, err := s.ReadAll(ctx(t), c.read)
				if err != nil {
					return err
				}
				for _, err := range page.Events {
					if err != nil {
						return err
					}
				}
				return nil
			}
			b.Exec(t, s, fmt.Sprintf(b.DropIndex, c.index))
			var create string
			for what, err := range map[string]error{"the filtered read": read(), "Ping": s.Ping(ctx(t))} {
				var missing *eventstore.MissingError
				if !errors.As(err, &missing) || missing.Index != c.index || missing.Create == "" || !errors.Is(err, eventstore.ErrUnavailable) ||
					!strings.Contains(err.Error(), c.index) || !strings.Contains(err.Error(), missing.Create) {
					t.Errorf("%s with the index %s dropped: %v; want the MissingError (unavailable) naming the index and the statement that makes it again", what, c.index, err)
					continue
				}
				create = missing.Create
			}
			if create == "" {
				return
			}
			b.Exec(t, s, "UPDATE log_head SET position = position - 1 WHERE id = 1")
			if err := s.Ping(ctx(t)); !errors.Is(err, eventstore.ErrHeadBehind) || !errors.Is(err, eventstore.ErrDamaged) {
				t.Errorf("Ping with the index %s dropped and the log's head behind its events: %v; want the damage (ErrHeadBehind, ErrDamaged), not the index alone", c.index, err)
			}
			b.Exec(t, s, "UPDATE log_head SET position = position + 1 WHERE id = 1")
			b.Exec(t, s, create)
			if err := read(); err != nil {
				t.Errorf("the filtered read once %s is made again (%s): %v", c.index, create, err)
			}
			if err := s.Ping(ctx(t)); err != nil {
				t.Errorf("Ping once %s is made again (%s): %v", c.index, create, err)
			}
		})
	}
}

// testPagePastTheHead: a client's page of the log (GET /events) that
// meets an event past a head behind its events fails with the damage, as
// the live feed's tail does (testTailPastTheHead): it returned those
// events, which a subscription ends on as damage and the next appends'
// positions would take. Whatever the page's way of reading: in one query
// (a small limit), its positions first (a large one), filtered on one
// name or on several (a branch per name), and reading ahead. What lies up
// to the head reads as before (a page that ends at the head too, the row
// read past it saying only that more follow), and once the head is mended,
// the rest does.
func testPagePastTheHead(t *testing.T, b Backend) {
	s := b.Open(t)
	for i := range 5 {
		mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: []string{"order", "invoice"}[i%2], Events: batch(1)})
	}
	b.Exec(t, s, "UPDATE log_head SET position = position - 2 WHERE id = 1")
	cases := []eventstore.ReadAllOptions{
		{After: 2}, {After: 3}, {After: 2, Limit: 3}, {After: 0, Limit: 1000},
		{After: 2, StreamTypes: []string{"order"}},
		{After: 0, Limit: 1000, StreamTypes: []string{"order", "invoice"}},
		{After: 0, StreamTypes: []string{"order", "invoice"}, EventTypes: []string{"Happened"}},
		{After: 2, ReadAhead: true},
	}
	for _, opts := range cases {
		page, err := s.ReadAll(ctx(t), opts)
		if err == nil {
			_, err = collectErr(page.Events)
		}
		if !isHeadBehind(err) {
			t.Errorf("%+v, log_head at 3 behind events up to 5: the page read said %v; want the damage (ErrHeadBehind, ErrDamaged, ErrUnavailable) naming log_head and its repair", opts, err)
		}
	}
	// Up to the head, the one more read past a page saying only that more
	// follow: a page is not failed by what lies past it (the next page's
	// read meets the damage).
	for _, limit := range []int{2, 3} {
		page, err := s.ReadAll(ctx(t), eventstore.ReadAllOptions{After: 0, Limit: limit})
		if err != nil || !page.More || fmt.Sprint(positionsOf(collect(t, page.Events))) != fmt.Sprint([]int64{1, 2, 3}[:limit]) {
			t.Errorf("a page of %d from the start, log_head at 3: %v; want positions 1 to %d, more to follow", limit, err, limit)
		}
	}
	b.Exec(t, s, mendHead)
	for _, opts := range cases {
		page, err := s.ReadAll(ctx(t), opts)
		if err == nil {
			_, err = collectErr(page.Events)
		}
		if err != nil {
			t.Errorf("%+v, the head mended: %v; want the page", opts, err)
		}
	}
}

// testStreamPastTheHead: a stream's reads (its description, a page of its
// events either way, one event) that meet an event past a head behind its
// events fail with the damage, as a page of the log does
// (testPagePastTheHead): GET /events answered 503 damage while GET
// /streams/{id}/events answered 200 with every event, those past the head
// that the next appends' positions would take among them. A stream whose
// events all lie up to the head reads as before, and once the head is
// mended, so does the other.
func testStreamPastTheHead(t *testing.T, b Backend) {
	s := b.Open(t)
	below, past := uuid.New(), uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: below, Events: batch(3)}) // positions 1 to 3
	mustAppend(t, s, eventstore.AppendRequest{StreamID: past, Events: batch(2)})  // 4 and 5
	b.Exec(t, s, "UPDATE log_head SET position = position - 2 WHERE id = 1")
	page := func(id uuid.UUID, opts eventstore.ReadStreamOptions) ([]eventstore.Event, error) {
		p, err := s.ReadStream(ctx(t), id, opts)
		if err != nil {
			return nil, err
		}
		return collectErr(p.Events)
	}
	reads := map[string]func(id uuid.UUID) error{
		"Stream": func(id uuid.UUID) error { _, err := s.Stream(ctx(t), id); return err },
		"ReadStream forward": func(id uuid.UUID) error {
			_, err := page(id, eventstore.ReadStreamOptions{From: 1})
			return err
		},
		"ReadStream backward": func(id uuid.UUID) error {
			_, err := page(id, eventstore.ReadStreamOptions{Direction: eventstore.Backward})
			return err
		},
		"ReadStream reading ahead": func(id uuid.UUID) error {
			_, err := page(id, eventstore.ReadStreamOptions{From: 1, Limit: 1, ReadAhead: true})
			return err
		},
		"Event 1": func(id uuid.UUID) error { _, err := s.Event(ctx(t), id, 1); return err },
		"Event 2": func(id uuid.UUID) error { _, err := s.Event(ctx(t), id, 2); return err },
		// Where a stream's subscription from a version starts.
		"EventPosition 2": func(id uuid.UUID) error { _, err := s.EventPosition(ctx(t), id, 2); return err },
	}
	for what, read := range reads {
		err := read(past)
		if !isHeadBehind(err) {
			t.Errorf("%s of a stream at positions 4 and 5, log_head at 3: %v; want the damage (ErrHeadBehind, ErrDamaged, ErrUnavailable) naming log_head and its repair", what, err)
		}
		if err := read(below); err != nil {
			t.Errorf("%s of a stream at positions 1 to 3, log_head at 3: %v; want it read", what, err)
		}
	}
	if events, err := page(below, eventstore.ReadStreamOptions{From: 1}); err != nil || len(events) != 3 {
		t.Errorf("the stream at positions 1 to 3, log_head at 3: %d events, %v; want its 3", len(events), err)
	}
	b.Exec(t, s, mendHead)
	for what, read := range reads {
		if err := read(past); err != nil {
			t.Errorf("%s of a stream at positions 4 and 5, the head mended: %v; want it read", what, err)
		}
	}
}

// testListStreamsPastTheHead: a page of the streams (GET /streams) that
// holds a stream whose last event lies past a head behind its events fails
// with the damage, as that stream's own reads do (testStreamPastTheHead):
// it listed the stream at a version that counts events the next appends'
// positions would take, while GET /streams/{id} answered 503. A page whose
// streams all end up to the head lists as before, and once the head is
// mended, so does the other.
func testListStreamsPastTheHead(t *testing.T, b Backend) {
	s := b.Open(t)
	below, past := uuid.New(), uuid.New()
	mustAppend(t, s, eventstore.AppendRequest{StreamID: below, StreamType: "below", Events: batch(3)}) // positions 1 to 3
	mustAppend(t, s, eventstore.AppendRequest{StreamID: past, StreamType: "past", Events: batch(2)})   // 4 and 5
	b.Exec(t, s, "UPDATE log_head SET position = position - 2 WHERE id = 1")
	for _, opts := range []eventstore.ListStreamsOptions{{}, {StreamTypes: []string{"past"}}, {StreamTypes: []string{"below", "past"}, Limit: 2}} {
		list, err := s.ListStreams(ctx(t), opts)
		if !isHeadBehind(err) {
			t.Errorf("ListStreams %+v with a stream at positions 4 and 5, log_head at 3: %+v, %v; want the damage (ErrHeadBehind, ErrDamaged, ErrUnavailable) naming log_head and its repair", opts, list.Streams, err)
		}
	}
	list, err := s.ListStreams(ctx(t), eventstore.ListStreamsOptions{StreamTypes: []string{"below"}})
	if err != nil || len(list.Streams) != 1 || list.Streams[0].Version != 3 {
		t.Errorf("ListStreams of the type of a stream at positions 1 to 3, log_head at 3: %+v, %v; want it listed at version 3", list.Streams, err)
	}
	b.Exec(t, s, mendHead)
	if list, err := s.ListStreams(ctx(t), eventstore.ListStreamsOptions{}); err != nil || len(list.Streams) != 2 {
		t.Errorf("ListStreams, the head mended: %+v, %v; want both streams", list.Streams, err)
	}
}

// testTailHeadPastTheHead: the live feed's read of the head (which it
// follows alone while no subscription is open) fails with the damage
// where an event lies past the head, as its reads of the log do
// (testTailPastTheHead): the feed that read none of them let the first
// subscription open, which it then ended at its first poll. Once the head
// is mended, it reads the head.
func testTailHeadPastTheHead(t *testing.T, b Backend) {
	s := b.Open(t)
	for range 5 {
		mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(1)})
	}
	tail := s.Tail()
	if head, err := tail.Head(ctx(t)); err != nil || head != 5 {
		t.Fatalf("the tail's head of a sound log of 5 events: %d, %v; want 5", head, err)
	}
	b.Exec(t, s, "UPDATE log_head SET position = position - 2 WHERE id = 1")
	_, err := tail.Head(ctx(t))
	if !isHeadBehind(err) {
		t.Errorf("log_head at 3 behind events up to 5: the tail's head said %v; want the damage (ErrHeadBehind, ErrDamaged, ErrUnavailable) naming log_head and its repair", err)
	}
	b.Exec(t, s, mendHead)
	if head, err := tail.Head(ctx(t)); err != nil || head != 5 {
		t.Errorf("the tail's head, the head mended: %d, %v; want 5", head, err)
	}
}

// collectErr collects a page's events, and the error that ended it.
func collectErr(seq iter.Seq2[eventstore.Event, error]) ([]eventstore.Event, error) {
	var out []eventstore.Event
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// positionsOf returns the events' positions.
func positionsOf(evs []eventstore.Event) []int64 {
	ps := make([]int64, len(evs))
	for i, e := range evs {
		ps[i] = e.Position
	}
	return ps
}

// testStreamDescription: a stream's version and updated_at are its last
// event's, its created_at its first event's, however it was written to
// (alone, many times, in a group with other appends to it and to new
// streams, by a retry, past a refused append), and Stream, ReadStream and
// ListStreams (in pages, filtered by type) all say the same.
func testStreamDescription(t *testing.T, b Backend) {
	s := b.Open(t)
	c := ctx(t)
	type want struct {
		version          int64
		created, updated time.Time
	}
	wants := map[uuid.UUID]*want{}
	types := map[uuid.UUID]string{}
	add := func(id uuid.UUID, typ string, res eventstore.AppendResult) {
		t.Helper()
		w := wants[id]
		if w == nil {
			w = &want{created: res.Events[0].RecordedAt}
			wants[id], types[id] = w, typ
		}
		if last := res.Events[len(res.Events)-1]; last.Version > w.version {
			w.version, w.updated = last.Version, last.RecordedAt
		}
	}
	pause := func() { time.Sleep(3 * time.Millisecond) } // so that each append has a time of its own

	one := uuid.New()
	add(one, "single", mustAppend(t, s, eventstore.AppendRequest{StreamID: one, StreamType: "single", Expected: eventstore.NoStream, Events: batch(1)}))
	pause()
	many := uuid.New()
	first := withIDs(batch(2))
	add(many, "many", mustAppend(t, s, eventstore.AppendRequest{StreamID: many, StreamType: "many", Expected: eventstore.NoStream, Events: first}))
	for i := range 6 {
		pause()
		add(many, "many", mustAppend(t, s, eventstore.AppendRequest{StreamID: many, StreamType: "many", Events: batch(i%3 + 1)}))
	}
	pause()
	if again, err := s.Append(c, eventstore.AppendRequest{StreamID: many, StreamType: "many", Expected: eventstore.NoStream, Events: first}); err != nil || !again.Duplicate {
		t.Fatalf("retry of the stream's first append: %+v, %v; want a duplicate", again, err)
	}
	if _, err := s.Append(c, eventstore.AppendRequest{StreamID: many, StreamType: "many", Expected: eventstore.NoStream, Events: batch(1)}); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("a NoStream append to a stream that exists: %v, want %v", err, eventstore.ErrWrongExpectedVersion)
	}

	// One group: hold a commit and queue appends behind it.
	held, release := holdFirstCommit(b, s)
	other := uuid.New()
	heldDone := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := s.Append(c, eventstore.AppendRequest{StreamID: other, StreamType: "grouped", Events: batch(1)})
		if err != nil {
			t.Errorf("held append: %v", err)
		}
		heldDone <- res
	}()
	<-held
	g1, g2 := uuid.New(), uuid.New()
	queued := []eventstore.AppendRequest{
		{StreamID: g1, StreamType: "grouped", Events: batch(2)},
		{StreamID: g1, StreamType: "grouped", Events: batch(1)},
		{StreamID: g1, StreamType: "grouped", Events: batch(3)},
		{StreamID: g2, StreamType: "grouped", Events: batch(1)},
		{StreamID: g2, StreamType: "grouped", Events: batch(1)},
		{StreamID: many, Events: batch(2)},
		{StreamID: many, StreamType: "many", Expected: eventstore.NoStream, Events: first},     // a retry
		{StreamID: one, StreamType: "single", Expected: eventstore.NoStream, Events: batch(1)}, // refused
		{StreamID: other, Events: batch(1)},
	}
	results := make([]eventstore.AppendResult, len(queued))
	errs := make([]error, len(queued))
	var wg sync.WaitGroup
	for i, req := range queued {
		wg.Go(func() { results[i], errs[i] = s.Append(c, req) })
	}
	time.Sleep(50 * time.Millisecond) // let them queue
	close(release)
	wg.Wait()
	if t.Failed() {
		return
	}
	add(other, "grouped", <-heldDone)
	for i, req := range queued {
		switch {
		case i == 7:
			if !errors.Is(errs[i], eventstore.ErrWrongExpectedVersion) {
				t.Fatalf("queued NoStream append to a stream that exists: %v, want %v", errs[i], eventstore.ErrWrongExpectedVersion)
			}
		case i == 6:
			if errs[i] != nil || !results[i].Duplicate {
				t.Fatalf("queued retry of the stream's first append: %+v, %v; want a duplicate", results[i], errs[i])
			}
		case errs[i] != nil:
			t.Fatalf("queued append %d: %v", i, errs[i])
		default:
			typ := req.StreamType
			if typ == "" {
				typ = types[req.StreamID]
			}
			add(req.StreamID, typ, results[i])
		}
	}
	// The earliest of a grouped stream's appends may not be the first queued.
	for _, id := range []uuid.UUID{g1, g2} {
		evs, _ := readStream(t, s, id, eventstore.ReadStreamOptions{})
		wants[id].created = evs[0].RecordedAt
	}

	check := func(how string, st eventstore.Stream) {
		t.Helper()
		w := wants[st.ID]
		if w == nil {
			t.Errorf("%s: a stream %s nobody wrote", how, st.ID)
			return
		}
		if st.Type != types[st.ID] || st.Version != w.version || !st.CreatedAt.Equal(w.created) || !st.UpdatedAt.Equal(w.updated) {
			t.Errorf("%s: stream %s = type %s version %d created %v updated %v;\nwant type %s version %d created %v (its first event's) updated %v (its last event's)",
				how, st.ID, st.Type, st.Version, st.CreatedAt, st.UpdatedAt, types[st.ID], w.version, w.created, w.updated)
		}
	}
	for id := range wants {
		st, err := s.Stream(c, id)
		if err != nil {
			t.Fatalf("Stream %s: %v", id, err)
		}
		check("Stream", st)
		for _, opts := range []eventstore.ReadStreamOptions{{}, {Limit: 1}, {Direction: eventstore.Backward, Limit: 1}} {
			_, page := readStream(t, s, id, opts)
			check(fmt.Sprintf("ReadStream %+v", opts), page.Stream)
		}
	}
	for _, f := range []struct {
		types []string
		limit int
	}{{nil, 1}, {nil, 2}, {nil, 5}, {nil, 0}, {[]string{"grouped"}, 1}, {[]string{"many", "single"}, 1}, {[]string{"grouped", "many"}, 2}} {
		var listed []uuid.UUID
		after := uuid.Nil
		for range 20 {
			list, err := s.ListStreams(c, eventstore.ListStreamsOptions{StreamTypes: f.types, After: after, Limit: f.limit})
			if err != nil {
				t.Fatalf("ListStreams: %v", err)
			}
			if f.limit > 0 && len(list.Streams) > f.limit {
				t.Fatalf("ListStreams limit %d gave %d streams", f.limit, len(list.Streams))
			}
			for _, st := range list.Streams {
				check(fmt.Sprintf("ListStreams types %v limit %d", f.types, f.limit), st)
				listed = append(listed, st.ID)
			}
			if !list.More {
				break
			}
			after = list.Streams[len(list.Streams)-1].ID
		}
		var want []uuid.UUID
		for id := range wants {
			if len(f.types) == 0 || slices.Contains(f.types, types[id]) {
				want = append(want, id)
			}
		}
		slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		if !slices.Equal(listed, want) {
			t.Errorf("ListStreams types %v in pages of %d listed %v, want %v", f.types, f.limit, listed, want)
		}
	}
}

// holdFirstCommit makes the next append transaction of s wait, holding the
// log's lock, just before COMMIT: held closes once it does, and closing
// release lets it commit. Later transactions are not held.
func holdFirstCommit(b Backend, s eventstore.Store) (held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.BeforeCommit(s, func() {
		once.Do(func() {
			close(held)
			<-release
		})
	})
	return held, release
}

// testCloseTwice: a store closed a second time (a deferred Close after an
// explicit one, a stop path that closes on each of two errors) returns nil
// and panics at nothing; the embedded store's second close panicked on a
// channel closed already. The test's own cleanup closes it a third time.
func testCloseTwice(t *testing.T, s eventstore.Store) {
	c, ok := s.(io.Closer)
	if !ok {
		t.Skip("the store has no Close")
	}
	mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Expected: eventstore.NoStream, Events: batch(1)})
	if err := c.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v, want nil: the store is closed already", err)
	}
}
