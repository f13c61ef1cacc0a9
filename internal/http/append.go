package http

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// appendRequest is the body of POST /streams/{id}/events.
type appendRequest struct {
	StreamType optionalString `json:"stream_type"`
	Events     eventList      `json:"events"`
}

// eventList is the events of an append, decoded no further than the event
// past max (if max is not 0): a batch over the limit is refused as that
// event arrives, not once the whole body has come and every event in it is
// decoded. Decoded, small events take more than three times the bytes they
// came in, which the budget of bodies in flight does not count.
type eventList struct {
	max    int
	events []newEventJSON
}

// UnmarshalJSONFrom takes a JSON array of events, or null, which is none,
// as a plain slice takes it.
func (l *eventList) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch kind := dec.PeekKind(); kind {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '[':
	default:
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: kind, GoType: reflect.TypeFor[[]newEventJSON]()}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for {
		kind := dec.PeekKind()
		if kind == ']' {
			break
		}
		if !strings.ContainsRune(`nft"0{[`, rune(kind)) {
			// Not the start of a value: the error PeekKind met (the body
			// stalled or broke off) or a malformed array, which the read
			// says, not an event past the limit.
			_, err := dec.ReadToken()
			return err
		}
		if l.max > 0 && len(l.events) == l.max {
			return tooManyEvents(fmt.Sprintf("more than %d", l.max), l.max)
		}
		if kind == 'n' {
			// null would decode as an event with every member left out,
			// and be refused for its empty type.
			if err := dec.SkipValue(); err != nil {
				return err
			}
			return &json.SemanticError{JSONKind: kind, JSONPointer: dec.StackPointer(), GoType: reflect.TypeFor[newEventJSON]()}
		}
		l.events = append(l.events, newEventJSON{})
		if err := json.UnmarshalDecode(dec, &l.events[len(l.events)-1]); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// tooManyEvents is the 413 of a batch of n events, over max.
func tooManyEvents(n string, max int) error {
	return &detailError{kind: errTooLarge, detail: fmt.Sprintf("the batch holds %s events; this server takes at most %d in one append", n, max)}
}

type newEventJSON struct {
	ID       optionalString `json:"id"`
	Type     stringNotNull  `json:"type"`
	Data     jsontext.Value `json:"data"`
	Metadata jsontext.Value `json:"metadata"`
}

// stringNotNull is a string member that refuses anything else, null
// included, which a plain string takes as "": the client learns that null
// is not a string rather than that the member is empty.
type stringNotNull string

// UnmarshalJSONFrom takes a JSON string, and refuses anything else.
func (s *stringNotNull) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if kind := dec.PeekKind(); kind != '"' {
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: kind, GoType: reflect.TypeFor[string]()}
	}
	return json.UnmarshalDecode(dec, (*string)(s))
}

// optionalString is a string member that may be left out. Sent, it must be
// a string: null, or an empty string, is not a left-out member (an event id
// taken for a left-out one would be made anew at each retry of the append,
// which would then be written again).
type optionalString struct {
	set   bool
	value string
}

// UnmarshalJSONFrom takes a JSON string, and refuses anything else.
func (o *optionalString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if kind := dec.PeekKind(); kind != '"' {
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: kind, GoType: reflect.TypeFor[string]()}
	}
	// Unmarshaled as a string field is, it shares the decoder's cache of
	// decoded strings (ReadToken's String allocates each time).
	if err := json.UnmarshalDecode(dec, &o.value); err != nil {
		return err
	}
	o.set = true
	return nil
}

// convert applies this server's limits to the request and converts it to
// the store's vocabulary. The store validates what it is given (names, data,
// ids): the rules live once, in package eventstore.
func (req appendRequest) convert(streamID uuid.UUID, expected eventstore.ExpectedVersion, maxBatch, maxEventBytes int) (eventstore.AppendRequest, error) {
	events := req.Events.events
	if len(events) > maxBatch {
		return eventstore.AppendRequest{}, tooManyEvents(strconv.Itoa(len(events)), maxBatch)
	}
	if req.StreamType.set && req.StreamType.value == "" {
		return eventstore.AppendRequest{}, eventstore.Invalid("stream_type", "must not be empty: give the stream's type (a new stream needs one), or leave it out on a stream that exists")
	}
	out := eventstore.AppendRequest{StreamID: streamID, StreamType: req.StreamType.value, Expected: expected,
		Events: make([]eventstore.NewEvent, len(events))}
	for i, e := range events {
		if n := len(e.Data) + len(e.Metadata); n > maxEventBytes {
			return eventstore.AppendRequest{}, &detailError{kind: errTooLarge,
				detail: fmt.Sprintf("events[%d] holds %d bytes of data and metadata; this server takes at most %d in one event", i, n, maxEventBytes)}
		}
		ne := eventstore.NewEvent{Type: string(e.Type), Data: e.Data, Metadata: e.Metadata}
		if e.ID.set {
			// The field's name is made only for an error.
			field := func() string { return "events[" + strconv.Itoa(i) + "].id" }
			id, err := eventstore.ParseUUID("id", e.ID.value)
			if err != nil {
				_, err = parseUUID(field(), e.ID.value)
				return eventstore.AppendRequest{}, err
			}
			if id == uuid.Nil {
				return eventstore.AppendRequest{}, eventstore.Invalid(field(), "must not be the nil UUID; leave id out to have one made")
			}
			ne.ID = id
		}
		if bytes.Equal(ne.Metadata, []byte("null")) {
			ne.Metadata = nil // null metadata is no metadata
		}
		out.Events[i] = ne
	}
	return out, nil
}

func (s *Server) appendEvents(w http.ResponseWriter, r *http.Request) error {
	id, expected, body, err := s.readAppend(w, r)
	if err != nil {
		return err // the body may be left unread: see closeUnread
	}
	req, err := body.convert(id, expected, s.opts.MaxBatch, s.opts.MaxEventBytes)
	if err != nil {
		return err
	}
	ticket := s.appendsRefused.begin()
	var order int64 // the writer's order of its outcome, for /readyz
	res, err := s.store.Append(eventstore.WithOutcomeOrder(r.Context(), &order), req)
	if err != nil {
		s.appendsRefused.note(ticket, order, err) // for /readyz
		return &appendError{err}
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK // a retry, which wrote nothing: /readyz learns nothing from it
	} else {
		s.appendsRefused.note(ticket, order, nil)
		s.standing.written() // a condition refusing every append has ended
	}
	w.Header().Set("ETag", etag(res.Version))
	w.Header().Set("Location", fmt.Sprintf("/streams/%s/events/%d", res.StreamID, res.Events[0].Version))
	writeJSONBytes(w, status, append(encodeAppendResult(make([]byte, 0, 128+120*len(res.Events)), res), '\n'))
	return nil
}

// readAppend reads an append: its stream, (empty) query, Content-Type and
// expected version, then its body. Its error may leave the body unread.
func (s *Server) readAppend(w http.ResponseWriter, r *http.Request) (uuid.UUID, eventstore.ExpectedVersion, appendRequest, error) {
	body := appendRequest{Events: eventList{max: s.opts.MaxBatch}}
	id, err := streamID(r)
	if err != nil {
		return id, eventstore.Any, body, err
	}
	if _, err := query(r); err != nil {
		return id, eventstore.Any, body, err
	}
	if err := requireJSON(w, r); err != nil {
		return id, eventstore.Any, body, err
	}
	expected, err := expectedVersion(r.Header)
	if err != nil {
		return id, expected, body, err
	}
	readDone := boundBodyRead(w, r)
	client := ""
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
		client = s.clientKey(r, *e.principal)
	}
	err = decodeJSON(w, r, s.opts.MaxBodyBytes, &s.bodies, client, &body)
	readDone(err)
	return id, expected, body, err
}

// boundBodyRead makes r's deadline (the timeout middleware's) bound the
// reading of its body, where it comes before the server's ReadTimeout. A
// response may be written until that deadline and writeGrace after it, so
// a body still arriving at the ReadTimeout, 60 s by default against 30 s
// and 5, was answered with a 408 no client received, and held its part of
// the budget of bodies in flight until then. Call the func it returns once
// the body is read: the connection's read deadline is then the request's
// and writeGrace (the server's, if that is sooner), so that net/http's
// read after the body, which cancels the request's context when it fails,
// fails only once the request's time is over, as the ReadTimeout does.
// Given the read's error, done leaves a deadline the read met as it is:
// the 408 closes the connection, and net/http, which reads what is left of
// a body before it closes, would wait writeGrace more on a client that
// sends nothing.
func boundBodyRead(w http.ResponseWriter, r *http.Request) (done func(readErr error)) {
	none := func(error) {}
	deadline, ok := r.Context().Deadline()
	if !ok {
		return none
	}
	after := deadline.Add(writeGrace)
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 {
		own := time.Now().Add(srv.ReadTimeout)
		if !own.After(deadline) {
			return none // the server's own deadline comes first
		}
		if own.Before(after) {
			after = own
		}
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(deadline) != nil {
		return none
	}
	if errors.Is(context.Cause(r.Context()), errCut) {
		// The stop's cut came before this read began (cutByStop): the
		// deadline it set must stay, or the body is waited for until the
		// connection closes under it, too late to answer.
		_ = rc.SetReadDeadline(time.Now())
	}
	return func(readErr error) {
		if !errors.Is(readErr, errRequestTimeout) {
			_ = rc.SetReadDeadline(after)
		}
	}
}

// decodeJSON decodes one JSON object of at most max bytes from the body into
// v, strictly: member names must match exactly (case matters), no member
// may be unknown or repeated at any depth (data and metadata included:
// parsers disagree on which of two equal names wins), the text must be
// UTF-8 without lone surrogates, and nothing may follow the object.
//
// It uses github.com/go-json-experiment/json, the implementation
// encoding/json/v2 is built from: encoding/json matches names without regard
// to case and takes the last of repeated members, and cannot be told not to.
//
// What it reads counts against budget, if not nil, as client's (clientKey).
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, budget *bodyBudget, client string, v any) error {
	d := decoders.Get().(*decoder)
	d.src = bodyReader{ReadCloser: r.Body, chunked: r.ContentLength < 0} // in d, not a new one each time
	body, err := decodedBody(w, r, max, &d.src)
	if err != nil {
		d.src = bodyReader{}
		decoders.Put(d)
		return err
	}
	d.body = budgetReader{r: http.MaxBytesReader(w, body, max), b: budget, client: client, head: d.body.head[:0]}
	d.dec.Reset(&d.body)
	defer func() {
		d.dec.Reset(bytes.NewReader(nil)) // drop the body
		d.body.release()
		d.src = bodyReader{}
		if d.body.read <= maxPooledBody {
			decoders.Put(d)
		} // else its buffer, grown to the body's size, goes with it
	}()
	dec := d.dec
	if dec.PeekKind() == 'n' {
		// null decodes into the object as if every member were left out:
		// say what it is, as for any other body that is not an object.
		return badRequest("the body must be a JSON object, not null")
	}
	if err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true)); err != nil {
		err = repoint(dec, err)
		if bytes.HasPrefix(d.body.head, utf8BOM) {
			// A file saved "UTF-8 with BOM" (PowerShell 5, Notepad): the
			// decoder's "invalid character '\ufeff'" named no cause.
			return badRequest("the body begins with a byte order mark (U+FEFF, bytes EF BB BF), which JSON text has none of: " +
				"save the file as UTF-8 without BOM, or drop its first three bytes; nothing was written")
		}
		if tc := trailingComma(d.body.head, err); tc != nil {
			return tc
		}
		return decodeError(err, max)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err != nil {
			// What stops the read after the object (the limit, the
			// time, the budget of bodies in flight, the gzip stream) is
			// said as it would be inside it.
			if de := decodeError(err, max); errors.Is(de, errTooLarge) || errors.Is(de, errRequestTimeout) ||
				errors.Is(de, errBodiesInFlight) || gzipFault(err) || errors.As(err, new(*bodyReadError)) {
				return de
			}
		}
		return badRequest("the body must hold one JSON object and nothing after it")
	}
	return nil
}

// utf8BOM is the byte order mark in UTF-8.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decoders are reused: a new one sets up a cache of decoded strings on
// first use, two thirds of what decoding a small append allocates. One that
// read a body larger than maxPooledBody is not: its buffer grew to hold it.
var decoders = sync.Pool{New: func() any { return &decoder{dec: jsontext.NewDecoder(bytes.NewReader(nil))} }}

// maxPooledBody is the largest body whose decoder is reused.
const maxPooledBody = 256 << 10

// decoder is a pooled JSON decoder and the readers of its body.
type decoder struct {
	dec  *jsontext.Decoder
	body budgetReader
	src  bodyReader // the request's body, under its Content-Encoding
}

// bodyBudget bounds the bytes of request bodies being received at once,
// all clients together, and those of each client (perClient, if not 0). A
// client that sends a large body slowly, or stops halfway, holds what it
// sent (and about as much again of the decoder's buffer) until its time is
// up (see boundBodyRead): fifty stalled uploads of 3.9 MB held 364 MB of a
// server's memory, and one client could hold the whole budget, every other
// client's append refused. What a body holds counts once it is read, so a
// client holds only what it has sent.
type bodyBudget struct {
	limit     int64
	used      atomic.Int64
	perClient int64
	mu        sync.Mutex
	held      map[string]int64 // by clientKey; a client holding none has no entry
}

var (
	// errBodyBudget is a read past the budget of bodies in flight.
	errBodyBudget = errors.New("the budget of request bodies in flight is spent")
	// errClientBodyBudget is a read past its client's share of it.
	errClientBodyBudget = errors.New("the client's share of the budget of request bodies in flight is spent")
)

// budgetReader reads a body, counting what it read against b (if not
// nil) as client's; release gives it back.
type budgetReader struct {
	r      io.Reader
	b      *bodyBudget
	client string
	read   int64  // bytes read, held against b until release
	head   []byte // the first maxHeadKept bytes read, for trailingComma
}

// maxHeadKept bounds what budgetReader keeps of a body for trailingComma:
// a body written by hand, where the mistake is made, is small.
const maxHeadKept = 16 << 10

func (br *budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	if room := maxHeadKept - len(br.head); room > 0 && n > 0 {
		br.head = append(br.head, p[:min(n, room)]...)
	}
	if n > 0 && br.b != nil {
		if err := br.b.take(br.client, int64(n)); err != nil {
			return 0, err
		}
	}
	br.read += int64(n)
	return n, err
}

// take counts n more bytes of client's against the budget, if they fit
// both the client's share and the whole. What does not fit the whole is
// never counted there, even for a moment: another body's read that fits
// would be refused in that moment. (It is counted in the client's share
// for that moment: only the client's own reads can see it.)
func (b *bodyBudget) take(client string, n int64) error {
	if b.perClient > 0 {
		b.mu.Lock()
		if b.held[client]+n > b.perClient {
			b.mu.Unlock()
			return errClientBodyBudget
		}
		if b.held == nil {
			b.held = map[string]int64{}
		}
		b.held[client] += n
		b.mu.Unlock()
	}
	for {
		used := b.used.Load()
		if used+n > b.limit {
			b.give(client, n)
			return errBodyBudget
		}
		if b.used.CompareAndSwap(used, used+n) {
			return nil
		}
	}
}

// give takes n bytes off client's share.
func (b *bodyBudget) give(client string, n int64) {
	if b.perClient <= 0 || n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[client] -= n; b.held[client] <= 0 {
		delete(b.held, client)
	}
}

// release gives back to the budget what the body read.
func (br *budgetReader) release() {
	if br.b != nil {
		br.b.used.Add(-br.read)
		br.b.give(br.client, br.read)
	}
	br.r, br.b, br.client = nil, nil, ""
}

// decodedBody returns body, the request's, with its Content-Encoding undone:
// identity (or none) and gzip are decoded (x-gzip as gzip, RFC 9110
// §8.4.1.3), anything else is a 415. The
// caller bounds what it reads of the result, so the body limit applies to
// the decompressed size; the compressed body is bounded too.
func decodedBody(w http.ResponseWriter, r *http.Request, max int64, body *bodyReader) (io.ReadCloser, error) {
	if r.ContentLength > max {
		// Said before it is sent: refused before net/http asks a client
		// that expects 100-continue for it, and before any of it is read.
		return nil, decodeError(&http.MaxBytesError{Limit: max}, max)
	}
	encodings := r.Header.Values("Content-Encoding")
	enc := ""
	if len(encodings) == 1 {
		enc = strings.ToLower(trimHTTPSpace(encodings[0]))
	}
	switch {
	case len(encodings) == 0 || enc == "identity":
		return body, nil
	case enc == "gzip" || enc == "x-gzip":
		head := &gzipHead{r: http.MaxBytesReader(w, body, max)}
		zr, err := gzip.NewReader(head)
		if errors.Is(err, io.EOF) {
			return nil, badRequest("the body is empty; send a JSON object, gzip-compressed as Content-Encoding says")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// Ended inside the header's 10 bytes: cut short only if what
			// came starts as gzip does. "{}" was told it was cut short,
			// where a longer body that is not gzip is told it is not.
			err = errGzipCut
			if !bytes.HasPrefix(gzipMagic, head.b[:head.n]) {
				err = gzip.ErrHeader
			}
		}
		if err != nil {
			return nil, decodeError(err, max)
		}
		return gzipBody{zr}, nil // closing it leaves the body to net/http, which closes it
	}
	// Said in a header too, for clients that send again as the server
	// takes it (RFC 9110 §15.5.16, RFC 7694).
	w.Header().Set("Accept-Encoding", "gzip")
	return nil, problemf(errUnsupportedMedia, "Content-Encoding %q is not supported; send the body as it is (identity) or gzip-compressed (gzip)",
		strings.Join(encodings, ", "))
}

// bodyReader is a request body whose failures to be read (its chunked
// framing broken, its connection failed or ended before its end) are
// *bodyReadError: the decoder passes them on wrapped in its own words
// ("jsontext: read error: http chunk length too large"), which told a
// client neither what to fix nor that nothing was written.
type bodyReader struct {
	io.ReadCloser
	chunked bool // Transfer-Encoding: chunked
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyReadError{err: err, chunked: b.chunked}
	}
	return n, err
}

// bodyReadError is a failure to read a request body.
type bodyReadError struct {
	err     error
	chunked bool
}

func (e *bodyReadError) Error() string { return "read the body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// problem says what e is to a client. The connection's own failures are
// said without their text, which names this server's addresses.
func (e *bodyReadError) problem() error {
	var netErr net.Error
	switch {
	case errors.Is(e.err, io.ErrUnexpectedEOF):
		// The connection ended before the body's Content-Length, or its
		// last chunk, had come.
		return badRequest("the body was cut short: the connection ended before all of it arrived; nothing was written")
	case errors.As(e.err, &netErr):
		return badRequest("the body could not be read: the connection failed before all of it arrived; nothing was written")
	case e.chunked:
		// net/http's words ("http chunk length too large", "invalid byte
		// in chunk length", "malformed chunked encoding") are each about
		// the framing, which the client's HTTP library wrote.
		return badRequest("the body could not be read: its chunked framing (Transfer-Encoding: chunked) is malformed: each chunk is its size " +
			"in hexadecimal (at most 16 digits), CRLF, that many bytes and CRLF, and a chunk of size 0 then CRLF ends the body; nothing was written")
	}
	return badRequest("the body could not be read; nothing was written")
}

// gzipBody is a gzip body whose end cut short is errGzipCut, not an
// unexpected EOF that would read as a JSON error.
type gzipBody struct{ *gzip.Reader }

func (g gzipBody) Read(p []byte) (int, error) {
	n, err := g.Reader.Read(p)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errGzipCut
	case errors.Is(err, gzip.ErrHeader):
		// Read met a header only past the first stream (gzip.NewReader
		// read the first): a body may hold streams one after another
		// (RFC 1952 §2.2), and what followed the last was none.
		err = errGzipTrailer
	}
	return n, err
}

// gzipMagic is how a gzip stream starts: its ID1, ID2 and CM (deflate)
// bytes, RFC 1952 §2.3.1.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// gzipHead is a body that keeps its first bytes (as many as gzipMagic
// has), for what a body too short for a gzip header is said to be.
type gzipHead struct {
	r io.Reader
	b [3]byte
	n int
}

func (h *gzipHead) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.n < len(h.b) {
		h.n += copy(h.b[h.n:], p[:n])
	}
	return n, err
}

// errGzipCut is a gzip body's that ends before its end.
var errGzipCut = errors.New("the gzip stream ends before its end")

// errGzipTrailer is a gzip body's whose bytes after a whole gzip stream do
// not start another.
var errGzipTrailer = errors.New("what follows a gzip stream is not gzip")

// gzipFault reports an error of the gzip encoding, not of the JSON in it.
func gzipFault(err error) bool {
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, new(flate.CorruptInputError)) ||
		errors.Is(err, errGzipCut) || errors.Is(err, errGzipTrailer)
}

// repoint returns err, a fault dec met inside a value it reads whole (an
// event's data or metadata), with the path to the fault found again, where
// it can be. The decoder names the objects around the fault from where their
// names were in its buffer when it entered them, and a value it had to read
// more of the body for has moved since: their names came out as whatever
// bytes sat there then (events[1].data.:{.:{.k…). The value's bytes up to
// the fault are still in the decoder's buffer, unread: decoded again from
// one slice, which no read moves, they name the path right. Where the
// fault is not found again at the same offset, err is returned as it is.
func repoint(dec *jsontext.Decoder, err error) error {
	var syntax *jsontext.SyntacticError
	if !errors.As(err, &syntax) {
		return err
	}
	// The value read whole: /events/N/data or /events/N/metadata.
	var prefix []string
	for tok := range syntax.JSONPointer.Tokens() {
		if prefix = append(prefix, tok); len(prefix) == 3 {
			break
		}
	}
	if len(prefix) < 3 || prefix[0] != "events" || (prefix[2] != "data" && prefix[2] != "metadata") {
		if at := placed(dec, syntax); at != syntax.JSONPointer {
			found := *syntax
			found.JSONPointer = at
			return &found
		}
		return err
	}
	unread := dec.UnreadBuffer()
	value := bytes.TrimLeft(unread, " \t\r\n")
	value = bytes.TrimLeft(bytes.TrimPrefix(value, []byte(":")), " \t\r\n")
	start := dec.InputOffset() + int64(len(unread)-len(value))
	if syntax.ByteOffset < start {
		return err
	}
	again := jsontext.NewDecoder(bytes.NewBuffer(bytes.Clone(value))) // it writes to its buffer
	// Token by token, not with ReadValue: the decoder then knows the last
	// value it read inside, for placed.
	var rerr error
	for rerr == nil {
		if _, rerr = again.ReadToken(); again.StackDepth() == 0 {
			break
		}
	}
	var inner *jsontext.SyntacticError
	if !errors.As(rerr, &inner) || start+inner.ByteOffset != syntax.ByteOffset {
		return err
	}
	found := *syntax
	found.JSONPointer = jsontext.Pointer("/" + strings.Join(prefix, "/") + string(placed(again, inner)))
	return &found
}

// placed returns where syntax, a fault dec just met, is: its own pointer,
// or, for a character that would go on a number or literal written right
// against the value before it, that value's. "data":01 is a number with a
// leading zero to whoever wrote it; the decoder reads a 0, then a 1 where
// a comma belongs, and names the object around it. After a space, the
// fault is a missing comma, in the object or array around.
func placed(dec *jsontext.Decoder, syntax *jsontext.SyntacticError) jsontext.Pointer {
	unread, last := dec.UnreadBuffer(), dec.StackPointer()
	if syntax.ByteOffset != dec.InputOffset() || len(unread) == 0 || !continuesToken(unread[0]) ||
		last == syntax.JSONPointer || last.Parent() != syntax.JSONPointer {
		return syntax.JSONPointer
	}
	return last
}

// continuesToken reports whether c could go on a number or a literal.
func continuesToken(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-'
}

// trailingComma returns the 400 of err, a syntax error at a comma right
// before the ] or } that closes an array or object (or at that closer),
// with head the body's first bytes; nil for any other error, or one past
// head. The decoder's own words for it were another mistake's: "invalid
// character ']' after object value (expecting ',' or '}')", or "invalid
// character ',' at start of value", pointing at a comma that is allowed.
func trailingComma(head []byte, err error) error {
	var syntax *jsontext.SyntacticError
	if !errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, jsontext.ErrDuplicateName) ||
		syntax.ByteOffset < 0 || syntax.ByteOffset >= int64(len(head)) {
		return nil
	}
	at := int(syntax.ByteOffset)
	comma, closer := -1, byte(0)
	switch head[at] {
	case ']', '}':
		if before := bytes.TrimRight(head[:at], " \t\r\n"); len(before) > 0 && before[len(before)-1] == ',' {
			comma, closer = len(before)-1, head[at]
		}
	case ',':
		if after := bytes.TrimLeft(head[at+1:], " \t\r\n"); len(after) > 0 && (after[0] == ']' || after[0] == '}') {
			comma, closer = at, after[0]
		}
	}
	if comma < 0 || !followsValue(head, comma) {
		return nil
	}
	return badRequest("malformed JSON at byte %d (%s): a trailing comma before '%c' (JSON allows none after the last member or element): remove it",
		comma, where(syntax.JSONPointer), closer)
}

// followsValue reports whether the comma at head[comma] follows a member
// or an element, so that it is a trailing comma: not a lone one (`[,]`,
// `{,}`), one after another (`[1,,]`), one where a value is missing
// (`{"a":,}`) or one after a name without its value (`{"a",}`). The byte
// before it must end a value, and head without it must read past where it
// was.
func followsValue(head []byte, comma int) bool {
	before := bytes.TrimRight(head[:comma], " \t\r\n")
	if len(before) == 0 {
		return false
	}
	switch c := before[len(before)-1]; {
	case c == '"' || c == ']' || c == '}' || '0' <= c && c <= '9' || c == 'e' || c == 'l':
	default:
		return false
	}
	without := append(head[:comma:comma], head[comma+1:]...)
	dec := jsontext.NewDecoder(bytes.NewReader(without), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for dec.InputOffset() <= int64(comma) {
		if _, err := dec.ReadToken(); err != nil {
			var syntax *jsontext.SyntacticError
			return !errors.As(err, &syntax) || syntax.ByteOffset > int64(comma)
		}
	}
	return true
}

// decodeError explains a JSON decoding failure to the client.
func decodeError(err error, max int64) error {
	var tooBig *http.MaxBytesError
	var syntax *jsontext.SyntacticError
	var semantic *json.SemanticError
	var netErr net.Error
	var de *detailError
	var unread *bodyReadError
	switch {
	case errors.As(err, &de):
		return de // a decoding method's own: the batch is too large
	case errors.As(err, &netErr) && netErr.Timeout():
		return &detailError{kind: errRequestTimeout, detail: "the body did not arrive in the time this server allows; nothing was written"}
	case errors.Is(err, errBodyBudget):
		return &detailError{kind: errBodiesInFlight, detail: "this server is receiving as many bytes of request bodies at once as it takes " +
			"(TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT); nothing was written: send the request again shortly"}
	case errors.Is(err, errClientBodyBudget):
		return &detailError{kind: errClientBodies, detail: "this client is sending as many bytes of request bodies at once as one client may " +
			"on this server (TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT); nothing was written: finish or close the others, or send the request again shortly"}
	case errors.As(err, &tooBig):
		return &detailError{kind: errTooLarge, detail: fmt.Sprintf("the body is larger than %d bytes, the most this server takes (for a gzip body, once decompressed)", max)}
	case errors.Is(err, errGzipCut):
		return badRequest("the gzip body ends in the middle of a gzip stream: it is cut short, or what follows a stream is not gzip")
	case errors.Is(err, errGzipTrailer):
		return badRequest("the body is not valid gzip, as Content-Encoding: gzip says it is: what follows its first gzip stream is not gzip " +
			"(a body may hold only gzip streams, one after another)")
	case errors.Is(err, gzip.ErrHeader):
		return badRequest("the body is not valid gzip, as Content-Encoding: gzip says it is: it does not start as gzip does (bytes 1f 8b 08)")
	case errors.Is(err, gzip.ErrChecksum):
		return badRequest("the body is not valid gzip, as Content-Encoding: gzip says it is: a gzip stream's checksum or length " +
			"does not match what it decompresses to")
	case gzipFault(err):
		return badRequest("the body is not valid gzip, as Content-Encoding: gzip says it is: its compressed data is corrupt")
	case errors.Is(err, io.EOF):
		// No value at all: nothing, or only whitespace, came (once
		// decompressed).
		return badRequest("the body is empty; send a JSON object")
	case errors.As(err, &syntax) && errors.Is(err, io.ErrUnexpectedEOF):
		if syntax.ByteOffset == 0 {
			return badRequest("the body is empty; send a JSON object")
		}
		return badRequest("the body ends in the middle of its JSON")
	case errors.As(err, &syntax) && errors.Is(err, jsontext.ErrDuplicateName):
		return badRequest("the JSON member %q appears twice in %s; each member name may appear once in an object",
			shorten(syntax.JSONPointer.LastToken()), where(syntax.JSONPointer.Parent()))
	case errors.As(err, &syntax) && syntax.Err != nil && strings.HasPrefix(syntax.Err.Error(), "invalid surrogate pair"):
		// The decoder's "invalid surrogate pair `\ud800"}]}`" told a user
		// of "any JSON value" neither what was wrong nor how to write it.
		// Its error type is internal to the decoder: only its text says
		// which it is (TestALoneSurrogateIsRefusedInEveryStringOfAnAppendSayingWhat
		// pins it, and fails should the text change).
		return badRequest("malformed JSON at byte %d (%s): a \\u escape of a lone UTF-16 surrogate (\\ud800 to \\udfff, not a high one followed by a low one), "+
			"which is no character: strings must be Unicode text (I-JSON, RFC 7493), in data and metadata too; write a character past U+FFFF "+
			"as itself in UTF-8 or as its pair (\\ud83d\\ude00 for U+1F600); nothing was written", syntax.ByteOffset, where(syntax.JSONPointer))
	case errors.As(err, &syntax):
		return badRequest("malformed JSON at byte %d (%s): %v", syntax.ByteOffset, where(syntax.JSONPointer), syntax.Err)
	case errors.As(err, &unread):
		return unread.problem()
	case errors.As(err, &semantic) && errors.Is(err, json.ErrUnknownName):
		return badRequest("unknown JSON member %q in %s; member names are exactly as documented (case matters)",
			shorten(semantic.JSONPointer.LastToken()), where(semantic.JSONPointer.Parent()))
	case errors.As(err, &semantic) && semantic.JSONPointer == "":
		return badRequest("the body must be a JSON object, not %s", jsonKind(semantic.JSONKind))
	case errors.As(err, &semantic) && semantic.Err == nil && semantic.GoType != nil:
		return badRequest("%s must be %s, not %s", fieldName(semantic.JSONPointer), goKind(semantic.GoType.Kind()), jsonKind(semantic.JSONKind))
	}
	return badRequest("invalid body: %v", err)
}

// where names the place of a JSON pointer for a client: "the body", or the
// field, e.g. events[0].data.
func where(p jsontext.Pointer) string {
	if p == "" {
		return "the body"
	}
	return fieldName(p)
}

// fieldName writes a JSON pointer the way validation errors name fields:
// /events/0/type is events[0].type.
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	depth := 0
	for tok := range p.Tokens() {
		if depth++; b.Len() > maxFieldName {
			continue // counted, not shown: a detail stays short however deep the body
		}
		if isDigits(tok) {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() > maxFieldName {
		return shorten(b.String()) + fmt.Sprintf(" (%d levels deep)", depth)
	}
	return b.String()
}

// shorten cuts s to at most maxFieldName bytes, at a character's start,
// and marks the cut: a problem detail stays short whatever a client sent.
func shorten(s string) string {
	if len(s) <= maxFieldName {
		return s
	}
	end := maxFieldName
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…"
}

// maxFieldName bounds the name of a field shown in a problem detail.
const maxFieldName = 120

// jsonKind names a kind of JSON value.
func jsonKind(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a JSON value"
}

// goKind names the JSON value a Go kind is decoded from.
func goKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value"
}
