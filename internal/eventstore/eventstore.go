// Package eventstore holds Tributary's vocabulary: events, streams, expected
// versions, the errors a store returns, input validation and the Store
// interface that every storage backend implements.
//
// It imports neither net/http nor database/sql: the HTTP layer and the stores
// both depend on it, never on each other.
package eventstore

import (
	"context"
	"iter"
	"time"

	"github.com/google/uuid"
)

// Event is one recorded event, as read back from the store.
type Event struct {
	ID         uuid.UUID
	StreamID   uuid.UUID
	StreamType string
	// Version is the event's place in its stream: 1, 2, 3 … with no gaps.
	Version int64
	// Position is the event's place in the global log. It grows strictly in
	// commit order across all streams.
	Position int64
	Type     string
	// Data is the event's JSON payload exactly as the client sent it.
	Data []byte
	// Metadata is a JSON object, or nil when the event has none.
	Metadata   []byte
	RecordedAt time.Time
}

// Stream describes one stream. A stream exists once it holds an event.
type Stream struct {
	ID        uuid.UUID
	Type      string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewEvent is an event to append. A zero ID asks the store to make one.
type NewEvent struct {
	ID       uuid.UUID
	Type     string
	Data     []byte
	Metadata []byte
}

// AppendRequest is one batch for one stream, written atomically or not at all.
type AppendRequest struct {
	StreamID uuid.UUID
	// StreamType is required when the stream is new; on an existing stream it
	// may be empty, and otherwise must equal the stored type.
	StreamType string
	Expected   ExpectedVersion
	Events     []NewEvent
}

// RecordedEvent is what an append tells about each event it stored.
type RecordedEvent struct {
	ID         uuid.UUID
	Version    int64
	Position   int64
	RecordedAt time.Time
}

// AppendResult is the outcome of a successful append.
type AppendResult struct {
	StreamID   uuid.UUID
	StreamType string
	// Version is the stream version after the batch: the version of its last event.
	Version int64
	Events  []RecordedEvent
	// Duplicate reports that the batch had already been stored by an earlier
	// request (an idempotent retry): nothing was written this time, and the
	// result is that of the original append.
	Duplicate bool
}

// WithOutcomeOrder returns ctx carrying slot, into which a store's Append
// given it writes, before it returns, the order in which the store decided
// that append's outcome among all the appends it decided (1, 2, …, from
// one writer, so a write's order is its commit's): an outcome handled
// late, after a later one's, is still known as the earlier. It stays 0
// where the store decided without its writer (refused before it, or a
// store that does not order them).
func WithOutcomeOrder(ctx context.Context, slot *int64) context.Context {
	return context.WithValue(ctx, outcomeOrderKey{}, slot)
}

// OutcomeOrderSlot returns the slot WithOutcomeOrder put in ctx, or nil.
func OutcomeOrderSlot(ctx context.Context) *int64 {
	slot, _ := ctx.Value(outcomeOrderKey{}).(*int64)
	return slot
}

type outcomeOrderKey struct{}

// Direction is the order in which a stream is read.
type Direction int

const (
	Forward Direction = iota
	Backward
)

// Page sizes: a read without a limit gets DefaultLimit events, and no read
// gets more than MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageLimit returns the page size to use for a requested limit: DefaultLimit
// for zero or less, at most MaxLimit.
func PageLimit(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}

// ReadStreamOptions selects a page of one stream.
type ReadStreamOptions struct {
	// From is the first version to return. Zero means the start of the stream
	// when reading forward, and its last version when reading backward.
	From      int64
	Limit     int
	Direction Direction
	// ReadAhead says that the caller reads the stream page by page and
	// is likely to ask for the page after this one soon (it followed a
	// next link to this one): the store may read that page while the
	// caller is busy with this one. It changes no answer.
	ReadAhead bool
	// FirstOnly says that the caller reads the page's first event only
	// (HEAD of a page, which answers as the GET would if that event
	// cannot be read): the store may read that one event alone, and
	// takes no page read ahead for a later request.
	FirstOnly bool
}

// StreamPage is one page of a stream: its description, then its events.
type StreamPage struct {
	Stream Stream
	// Next is the version the following page starts from, or 0 when this page
	// reaches the end (forward) or the start (backward) of the stream.
	Next int64
	// Events yields the page's events in order. It reads them from the store as
	// it goes, so it must be consumed before the request's context ends.
	Events iter.Seq2[Event, error]
}

// ReadAllOptions selects a page of the global log.
type ReadAllOptions struct {
	// After excludes every position up to and including it.
	After int64
	Limit int
	// StreamTypes and EventTypes keep only matching events; empty keeps all.
	StreamTypes []string
	EventTypes  []string
	// StreamID, when not zero, keeps only that stream's events.
	StreamID uuid.UUID
	// UpTo, when not zero, excludes every position after it.
	UpTo int64
	// ReadAhead is ReadStreamOptions.ReadAhead for the log.
	ReadAhead bool
	// FirstOnly is ReadStreamOptions.FirstOnly for the log (HEAD of a
	// page): the page's Last and More are as without it, and the store
	// may read its first event alone.
	FirstOnly bool
}

// LogPage is one page of the global log.
type LogPage struct {
	// Last is the position of the page's last event, or After when it is empty.
	Last int64
	// More reports whether matching events remain after Last.
	More   bool
	Events iter.Seq2[Event, error]
}

// ListStreamsOptions selects a page of streams, ordered by stream id.
type ListStreamsOptions struct {
	StreamTypes []string
	// After excludes every stream whose id sorts at or before it. The zero
	// UUID starts from the beginning.
	After uuid.UUID
	Limit int
}

// StreamList is one page of streams.
type StreamList struct {
	Streams []Stream
	// More reports whether streams remain after the last one listed.
	More bool
}

// Store is the storage a Tributary server runs on.
//
// Errors wrap the sentinels of this package: ErrStreamNotFound,
// ErrEventNotFound, ErrWrongExpectedVersion, ErrDuplicateEventID,
// ErrStreamTypeMismatch, ErrStreamTypeRequired, ErrInvalid and ErrUnavailable
// (with ErrOutcomeUnknown for an append that may have been written).
type Store interface {
	// Append writes a batch atomically. It returns a *WrongExpectedVersionError
	// when the stream is not at the expected version, a *DuplicateEventError
	// when an event id is already used by another stream (whatever its
	// content) or by a batch of this one the request does not repeat whole,
	// an *IdempotencyKeyReusedError when an id stored in this stream comes
	// with other content, a *StreamTypeMismatchError when the stream has
	// another type, and ErrStreamTypeRequired when a new stream is given no
	// type. A retry of a batch already stored returns the
	// original result with Duplicate set and writes nothing.
	Append(ctx context.Context, req AppendRequest) (AppendResult, error)
	// Stream describes one stream, or returns ErrStreamNotFound.
	Stream(ctx context.Context, id uuid.UUID) (Stream, error)
	// ReadStream returns a page of one stream, or ErrStreamNotFound.
	ReadStream(ctx context.Context, id uuid.UUID, opts ReadStreamOptions) (StreamPage, error)
	// Event returns one event of a stream by version, or ErrEventNotFound.
	Event(ctx context.Context, streamID uuid.UUID, version int64) (Event, error)
	// EventPosition returns the log position of one event of a stream by
	// version, without reading its data, or ErrEventNotFound: where a
	// subscription of the stream from the next version starts.
	EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error)
	// ReadAll returns a page of the global log in position order.
	ReadAll(ctx context.Context, opts ReadAllOptions) (LogPage, error)
	// ListStreams returns a page of streams.
	ListStreams(ctx context.Context, opts ListStreamsOptions) (StreamList, error)
	// Head returns the position of the last committed event, 0 for an empty log.
	Head(ctx context.Context) (int64, error)
	// Ping reports whether the database answers; ErrUnavailable if not. It
	// uses the connections of the Tail, so busy clients cannot fail it.
	// An index missing that only the reads of the log filtered on stream
	// or event types use is a *MissingError with Index set, returned only
	// once every other check passed: a partial finding, the rest is served
	// (/readyz stays 200 for it, naming it). So is a column the store does
	// not write, NOT NULL without a default, found by looking: an
	// *UnwrittenColumnError with Table set and Err nil (/readyz stays 200,
	// saying appends are refused). Several are joined (errors.Join).
	Ping(ctx context.Context) error
	// Tail returns the log as the process's live feed reads it.
	Tail() LogTail
}

// ReplicaLag is how far a store's read replica is behind the server that
// takes its appends.
type ReplicaLag struct {
	// Positions is the primary's log head minus the replica's.
	Positions int64
	// PrimaryHead is the primary's log head, read after the replica's: a
	// replica that reaches it has every append answered before the lag was
	// read. 0 where the store has no read replica.
	PrimaryHead int64
	// Seconds is the replica's own estimate (Seconds_Behind_Master), -1
	// when it has none: its applier is stopped.
	Seconds int64
	// Replicating reports whether the replica receives and applies the
	// primary's transactions.
	Replicating bool
	// ApplierFailed reports that the replica applies nothing more of the
	// primary's until someone repairs it: its applier (its SQL thread) has
	// stopped on an error, a conflicting row or a missing table, or its
	// receiver (its IO thread) has, a binary log the primary purged before
	// the replica read it, and the applier has applied all it received.
	// Unlike a clean stop, which someone may undo in a moment, or a
	// receiver that retries its connection, it will not mend by itself.
	ApplierFailed bool
	// IOErrno is the error number the receiver (the IO thread) stopped
	// on, where that is why ApplierFailed; 0 otherwise. Only the number:
	// the server's message names the primary's user and host.
	IOErrno int
	// PrimaryMayLag reports that the primary is a node of a Galera cluster,
	// which applies the other nodes' commits a moment late: its head may
	// be short of a position another instance's node answered.
	PrimaryMayLag bool
}

// LogTail is the log as the live feed reads it. A store serves it on
// connections of its own that no client request can take, so that however
// many clients are slow to read their answers, new events are still seen.
type LogTail interface {
	// Head returns the position of the last committed event, 0 for an empty log.
	Head(ctx context.Context) (int64, error)
	// ReadAll returns a page of the log, as Store.ReadAll does.
	ReadAll(ctx context.Context, opts ReadAllOptions) (LogPage, error)
	// IDAt returns the id of the event at position, uuid.Nil (and no
	// error) when no event holds it. It reads the id alone, not the data:
	// the live feed checks with it, at each poll, that the event it handed
	// out last is still at the head, however large that event is.
	IDAt(ctx context.Context, position int64) (uuid.UUID, error)
	// WaitDurable returns once every commit up to position, which the caller
	// has seen, is durable, so that no crash can take back what is handed
	// out next. Stores whose commits are durable before they are visible
	// return at once.
	WaitDurable(ctx context.Context, position int64) error
	// WentBack tells the store that the log went back under the process
	// (the database restored from a backup, or replaced, while it ran):
	// positions it knew to be durable may hold other commits now, which
	// WaitDurable must make sure of again.
	WentBack()
	// MissingFromLog says whether position, missing from the log the tail
	// reads below events it has, for longer than a commit takes to show,
	// may be skipped: nil where no event holds it (a row removed by hand:
	// the feed skips it), an error otherwise, which the feed's poll fails
	// with, handing out nothing past it and asking again when it meets it
	// next. A read replica's tail errs where the primary has the event (the
	// replica lost it: a transaction skipped on it, a relay log lost);
	// a tail that reads the primary itself has nothing else to ask and
	// returns nil.
	MissingFromLog(ctx context.Context, position int64) error
}

// SubscribeOptions selects what a subscription delivers: the matching events
// after a position, first from history, then live as they commit.
type SubscribeOptions struct {
	// After is a position: only events after it are delivered.
	After int64
	// StreamID, when not zero, subscribes to one stream. FromVersion then
	// skips its events below that version.
	StreamID    uuid.UUID
	FromVersion int64
	// StreamTypes and EventTypes keep only matching events; empty keeps all.
	StreamTypes []string
	EventTypes  []string
}

// Delivery is one thing a subscription hands its consumer: an event, the
// moment history is done, or progress.
type Delivery struct {
	// Event is set when the delivery is an event.
	Event *Event
	// CaughtUp marks the end of history: what follows is live. Position is
	// then where the live feed starts, and Version, for a stream
	// subscription, the stream's version there: every event up to it has
	// been delivered, and none after it.
	CaughtUp bool
	// Position, on a delivery that is neither an event nor CaughtUp, reports
	// progress: every matching event up to it has been delivered. A filtered
	// subscription uses it to move its resume point past skipped events.
	Position int64
	Version  int64
}

// Subscription is an open subscription, driven by its consumer's goroutine:
// call Next, write what it hands over, and wait on Ready before calling it
// again. Its methods are for one goroutine at a time.
type Subscription interface {
	// Next calls emit, in order, with the deliveries ready now (possibly
	// none), reading history from the store if need be but never waiting
	// for new events. It returns emit's error, ctx's, or another error once
	// the subscription can deliver nothing more (its feed stopped).
	Next(ctx context.Context, emit func(Delivery) error) error
	// Ready returns a channel that is closed once Next may have more.
	Ready() <-chan struct{}
	// Close releases the subscription.
	Close()
}
