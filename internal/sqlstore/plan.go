package sqlstore

import (
	"bytes"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// The plan is the pure part of an append transaction: given what the
// transaction read (the head, the streams, the event ids already known), it
// decides each request's outcome in order and lays out the rows to write.
// It does no I/O; appendTx reads and writes for it.

// streamState is a stream as an append transaction sees it.
type streamState struct {
	Type      string
	Version   int64
	CreatedAt time.Time
	// rowMissing: the stream has events (Version) but no row of streams.
	rowMissing bool
}

// knownEvent is an event id already in the log: where it stands and what it
// holds, so that a retry can be told from a reuse of the id.
type knownEvent struct {
	StreamID   uuid.UUID
	StreamType string
	Version    int64
	Position   int64
	RecordedAt time.Time
	Type       string
	Data       []byte
	Metadata   []byte
	// BatchSize is, on the first event of an append, how many events it
	// stored; 0 on the others; -1 where the log does not know (events
	// stored before it kept batch sizes).
	BatchSize int64
}

// differs names what of e (sent with streamType, "" for any) is not as
// stored, or returns "".
func (k knownEvent) differs(e eventstore.NewEvent, streamType string) string {
	switch {
	case streamType != "" && streamType != k.StreamType:
		return "stream_type"
	case e.Type != k.Type:
		return "type"
	case !bytes.Equal(e.Data, k.Data):
		return "data"
	case !bytes.Equal(e.Metadata, k.Metadata):
		return "metadata"
	}
	return ""
}

// row is one event to insert.
type row struct {
	Position   int64
	StreamID   uuid.UUID
	StreamType string
	Version    int64
	Event      eventstore.NewEvent
	RecordedAt time.Time
	// BatchSize is the number of events of the append, on its first event; 0 on the others.
	BatchSize int64
}

// newStream is a stream a transaction creates: its row in streams, which
// holds what does not change (a stream's version is its last event's).
type newStream struct {
	ID uuid.UUID
	streamState
}

// plan is one group transaction's view of the database, updated in memory
// as the group's requests are applied in order.
type plan struct {
	head    int64
	now     time.Time
	streams map[uuid.UUID]*planStream
	order   []uuid.UUID // streams in the order first seen, for stable writes
	known   map[uuid.UUID]knownEvent
	rows    []row
	// commit is the random id the plan's commit leaves on log_head, set
	// when its writes are laid out: no other commit, by this process or any
	// other, has it, so a writer that finds it there knows the head is its.
	commit uuid.UUID
}

type planStream struct {
	streamState
	created bool // the plan writes the stream's first event
}

// newPlan starts a plan for calls from what the transaction read: the head
// and the time to stamp events with, the calls' streams that exist, and the
// event ids of theirs already in the log.
func newPlan(head int64, now time.Time, calls []*call, found map[uuid.UUID]streamState, known map[uuid.UUID]knownEvent) *plan {
	events := 0
	for _, c := range calls {
		events += len(c.req.Events)
	}
	order := streamsOf(calls)
	p := &plan{head: head, now: now, streams: make(map[uuid.UUID]*planStream, len(order)), order: order, known: known,
		rows: make([]row, 0, events)}
	// The streams' states in one allocation, not one each (a group of 32
	// appends to streams of their own made 32).
	states := make([]planStream, len(order))
	for i, id := range order {
		states[i].streamState = found[id]
		p.streams[id] = &states[i]
	}
	return p
}

// streamsOf lists the calls' streams, each once, in the order first seen.
func streamsOf(calls []*call) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(calls))
	ids := make([]uuid.UUID, 0, len(calls))
	for _, c := range calls {
		if !seen[c.req.StreamID] {
			seen[c.req.StreamID] = true
			ids = append(ids, c.req.StreamID)
		}
	}
	return ids
}

// clientIDsOf lists the event ids the calls' clients chose.
func clientIDsOf(calls []*call) []uuid.UUID {
	var ids []uuid.UUID
	for _, c := range calls {
		ids = append(ids, c.clientIDs...)
	}
	return ids
}

// apply checks one request against the plan and, if it passes, plans its rows.
func (p *plan) apply(c *call) outcome {
	req := c.req
	st := p.streams[req.StreamID]
	if st.rowMissing {
		// Neither a new stream (its events are there) nor one whose type
		// is known: nothing is appended to it, a retry included, until
		// its row is made again.
		return outcome{err: streamRowMissing(req.StreamID)}
	}

	// Idempotency comes first: a retry must succeed although the stream has
	// moved past the version the original request expected.
	if res, retry, err := p.checkRetry(c, st); err != nil || retry {
		return outcome{res: res, err: err}
	}
	if !req.Expected.Allows(st.Version) {
		return outcome{err: &eventstore.WrongExpectedVersionError{StreamID: req.StreamID, Expected: req.Expected, Current: st.Version}}
	}
	switch {
	case st.Version == 0 && req.StreamType == "":
		return outcome{err: eventstore.ErrStreamTypeRequired}
	case st.Version == 0:
		st.Type = req.StreamType
		st.CreatedAt = p.now
		st.created = true
	case req.StreamType != "" && req.StreamType != st.Type:
		return outcome{err: &eventstore.StreamTypeMismatchError{StreamID: req.StreamID, Stored: st.Type, Given: req.StreamType}}
	}

	res := eventstore.AppendResult{StreamID: req.StreamID, StreamType: st.Type, Events: make([]eventstore.RecordedEvent, len(req.Events))}
	for i, e := range req.Events {
		p.head++
		st.Version++
		var size int64
		if i == 0 {
			size = int64(len(req.Events))
		}
		p.rows = append(p.rows, row{Position: p.head, StreamID: req.StreamID, StreamType: st.Type, Version: st.Version, Event: e, RecordedAt: p.now, BatchSize: size})
		p.known[e.ID] = knownEvent{StreamID: req.StreamID, StreamType: st.Type, Version: st.Version, Position: p.head, RecordedAt: p.now,
			Type: e.Type, Data: e.Data, Metadata: e.Metadata, BatchSize: size}
		res.Events[i] = eventstore.RecordedEvent{ID: e.ID, Version: st.Version, Position: p.head, RecordedAt: p.now}
	}
	res.Version = st.Version
	return outcome{res: res}
}

// checkRetry decides whether a request repeats a batch already stored: the
// same events (type, data and metadata byte for byte, and the stream type if
// given) under the same ids, in this stream, in this order, and the whole of
// the stored batch. An id stored in another stream is a duplicate whatever
// was sent with it: no retry to this stream could repeat it. An id stored in
// this stream with other content is a reused idempotency key; one that does
// not fit that picture otherwise is a duplicate in this stream.
func (p *plan) checkRetry(c *call, st *planStream) (eventstore.AppendResult, bool, error) {
	var firstKnown uuid.UUID
	for _, id := range c.clientIDs {
		if _, ok := p.known[id]; ok {
			firstKnown = id
			break
		}
	}
	if firstKnown == uuid.Nil {
		return eventstore.AppendResult{}, false, nil
	}
	req := c.req
	for _, id := range c.clientIDs {
		if k, ok := p.known[id]; ok && k.StreamID != req.StreamID {
			return eventstore.AppendResult{}, false, &eventstore.DuplicateEventError{EventID: id}
		}
	}
	for _, e := range req.Events {
		if k, ok := p.known[e.ID]; ok {
			if field := k.differs(e, req.StreamType); field != "" {
				return eventstore.AppendResult{}, false, &eventstore.IdempotencyKeyReusedError{EventID: e.ID, Field: field}
			}
		}
	}
	duplicate := &eventstore.DuplicateEventError{EventID: firstKnown, InStream: true}
	if len(c.clientIDs) < len(req.Events) {
		// Events without an id were given new ones when first stored: no
		// retry of this batch can be recognised. Say so, not that the
		// client changed the batch (it may have sent it as it was).
		unnamedRefusal(duplicate, c, p.known[firstKnown])
		return eventstore.AppendResult{}, false, duplicate
	}
	if size := p.known[req.Events[0].ID].BatchSize; size >= 0 && size != int64(len(req.Events)) {
		return eventstore.AppendResult{}, false, duplicate // not the whole stored batch
	}
	res := eventstore.AppendResult{StreamID: req.StreamID, StreamType: st.Type, Duplicate: true}
	for i, e := range req.Events {
		k, ok := p.known[e.ID]
		if !ok || k.StreamID != req.StreamID || (i > 0 && k.Version != res.Events[i-1].Version+1) {
			return eventstore.AppendResult{}, false, duplicate
		}
		res.Events = append(res.Events, eventstore.RecordedEvent{ID: e.ID, Version: k.Version, Position: k.Position, RecordedAt: k.RecordedAt})
	}
	res.Version = res.Events[len(res.Events)-1].Version
	return res, true, nil
}

// unnamedRefusal fills dup, the refusal of call c, which sends some events
// without an id, with those events and where its first stored id, k, is.
// It runs only on the refusal, so a retry pays nothing for it.
func unnamedRefusal(dup *eventstore.DuplicateEventError, c *call, k knownEvent) {
	named := c.clientIDs
	for i, e := range c.req.Events {
		if len(named) > 0 && named[0] == e.ID {
			named = named[1:]
			continue
		}
		dup.Unnamed = append(dup.Unnamed, i)
	}
	dup.Version, dup.BatchSize = k.Version, max(k.BatchSize, 0)
}

// created lists the streams the plan creates.
func (p *plan) created() []newStream {
	var out []newStream
	for _, id := range p.order {
		if st := p.streams[id]; st.created {
			out = append(out, newStream{ID: id, streamState: st.streamState})
		}
	}
	return out
}
