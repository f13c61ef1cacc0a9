package groupcommit

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// plan is one group transaction's view of the database, updated in memory
// as the group's requests are applied in order.
type plan struct {
	head    int64
	now     time.Time
	streams map[uuid.UUID]*planStream
	order   []uuid.UUID // streams in the order first seen, for stable writes
	known   map[uuid.UUID]KnownEvent
	rows    []Row
}

type planStream struct {
	StreamState
	touched bool
}

// load reads the group's streams and the event ids its clients chose.
func (p *plan) load(ctx context.Context, tx Tx, calls []*call) error {
	p.streams = make(map[uuid.UUID]*planStream, len(calls))
	var ids []uuid.UUID
	for _, c := range calls {
		if _, ok := p.streams[c.req.StreamID]; !ok {
			p.streams[c.req.StreamID] = &planStream{}
			p.order = append(p.order, c.req.StreamID)
		}
		ids = append(ids, c.clientIDs...)
	}
	found, err := tx.Streams(ctx, p.order)
	if err != nil {
		return err
	}
	for id, st := range found {
		if ps, ok := p.streams[id]; ok {
			ps.StreamState = st
		}
	}
	p.known = map[uuid.UUID]KnownEvent{}
	if len(ids) > 0 {
		if p.known, err = tx.KnownEvents(ctx, ids); err != nil {
			return err
		}
	}
	return nil
}

// apply checks one request against the plan and, if it passes, plans its rows.
func (p *plan) apply(c *call) outcome {
	req := c.req
	st := p.streams[req.StreamID]

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
		p.rows = append(p.rows, Row{Position: p.head, StreamID: req.StreamID, StreamType: st.Type, Version: st.Version, Event: e, RecordedAt: p.now, BatchSize: size})
		p.known[e.ID] = KnownEvent{StreamID: req.StreamID, StreamType: st.Type, Version: st.Version, Position: p.head, RecordedAt: p.now,
			Type: e.Type, Data: e.Data, Metadata: e.Metadata, BatchSize: size}
		res.Events[i] = eventstore.RecordedEvent{ID: e.ID, Version: st.Version, Position: p.head, RecordedAt: p.now}
	}
	st.touched = true
	res.Version = st.Version
	return outcome{res: res}
}

// checkRetry decides whether a request repeats a batch already stored: the
// same events (type, data and metadata byte for byte, and the stream type if
// given) under the same ids, in this stream, in this order, and the whole of
// the stored batch. A stored id sent with other content is a reused
// idempotency key; a stored id that does not fit that picture otherwise is a
// duplicate.
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
	for _, e := range req.Events {
		if k, ok := p.known[e.ID]; ok {
			if field := k.differs(e, req.StreamType); field != "" {
				return eventstore.AppendResult{}, false, &eventstore.IdempotencyKeyReusedError{EventID: e.ID, Field: field}
			}
		}
	}
	duplicate := &eventstore.DuplicateEventError{EventID: firstKnown}
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

// saved lists the streams the plan appended to, with their new state.
func (p *plan) saved() []SavedStream {
	var out []SavedStream
	for _, id := range p.order {
		if st := p.streams[id]; st.touched {
			out = append(out, SavedStream{ID: id, StreamState: st.StreamState, UpdatedAt: p.now})
		}
	}
	return out
}
