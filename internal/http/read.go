package http

import (
	"bufio"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

func (s *Server) getStream(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "a stream's description"); err != nil {
		return err
	}
	id, err := streamID(r)
	if err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	if err := s.awaitPageMinPosition(r); err != nil {
		return err
	}
	st, err := s.store.Stream(r.Context(), id)
	if err != nil {
		return err
	}
	tag := etag(st.Version)
	w.Header().Set("ETag", tag)
	if err := ifMatch(r, tag); err != nil {
		return err
	}
	if notModified(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, toStreamJSON(st))
}

// streamParams are the query parameters of a stream's events, pages and
// subscriptions alike, as the same URL serves both (a subscription refuses
// direction=backward and limit, which only shape pages).
var streamParams = []string{"from", "limit", "direction"}

func (s *Server) readStream(w http.ResponseWriter, r *http.Request) error {
	id, err := streamID(r)
	if err != nil {
		return err
	}
	if wantsEvents(r) {
		return s.subscribeStream(w, r, id)
	}
	q, err := query(r, streamParams...)
	if err != nil {
		return err
	}
	opts := eventstore.ReadStreamOptions{}
	switch d := q.Get("direction"); d {
	case "", "forward":
	case "backward":
		opts.Direction = eventstore.Backward
	default:
		return badRequest("query parameter direction must be forward or backward, got %q", d)
	}
	if opts.From, err = intParam(q, "from", 0, 1, 1<<63-1); err != nil {
		return err
	}
	if opts.Limit, err = limitParam(q); err != nil {
		return err
	}
	if err := noLastEventID(r, "from=<version> (the first version it holds)", q.Has("from") && opts.Direction == eventstore.Forward,
		func(last int64) bool { return last < 1<<63-1 && last+1 == opts.From }); err != nil {
		return err
	}
	if err := s.awaitPageMinPosition(r); err != nil {
		return err
	}
	// A read from past the first page followed a next link, most likely:
	// the store may read the page after it while this one is written.
	opts.ReadAhead = opts.Direction == eventstore.Forward && opts.From > 1 && r.Method != http.MethodHead
	opts.FirstOnly = r.Method == http.MethodHead
	page, err := s.store.ReadStream(r.Context(), id, opts)
	if err != nil {
		return err
	}
	tag := etag(page.Stream.Version)
	if err := ifMatch(r, tag); err != nil {
		w.Header().Set("ETag", tag)
		return err
	}
	if notModified(r, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	start := func(h http.Header, b []byte) []byte {
		h.Set("ETag", tag)
		if page.Next != 0 {
			next := url.Values{"from": {strconv.FormatInt(page.Next, 10)}, "limit": {strconv.Itoa(opts.Limit)}}
			if opts.Direction == eventstore.Backward {
				next.Set("direction", "backward")
			}
			h.Set("Link", "</streams/"+id.String()+"/events?"+next.Encode()+`>; rel="next"`)
		}
		b = append(b, `{"stream_id":"`...)
		b = append(b, id.String()...)
		b = append(b, `","stream_type":`...)
		b = appendString(b, page.Stream.Type)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, page.Stream.Version, 10)
		return append(b, `,"events":[`...)
	}
	if r.Method == http.MethodHead {
		return headEvents(w, page.Events, start)
	}
	return s.writeEvents(w, r, page.Events, start)
}

// varyOnAccept says, on every answer to a GET or HEAD of a route that
// serves a page or a subscription by the Accept header alone, or JSON or a
// 406 (refuseEventStream: a stream, one event, the list of streams), that
// it varies on Accept (RFC 9110 §12.5.5), so that no cache hands one to a
// client that asked for the other: set before access control and the
// route's own middleware (minPosition), so that their refusals say it too.
// It matches the path as routing will (routingPath).
func varyOnAccept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && negotiatedPath(routingPath(r)) {
			w.Header().Add("Vary", "Accept")
		}
		next.ServeHTTP(w, r)
	})
}

// negotiatedPath reports whether path is a read whose answer depends on
// Accept: the events (eventsPath), or what answers 406 to an event stream
// alone (/streams and what is under it, the probes, the page, the contract
// and the metrics).
func negotiatedPath(path string) bool {
	switch path {
	case "/events", "/streams", "/healthz", "/readyz", "/", "/openapi.yaml", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/streams/")
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "one event"); err != nil {
		return err
	}
	id, err := streamID(r)
	if err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	raw := chi.URLParam(r, "version")
	version, refused := parseNumber(raw)
	if refused == leadingZero {
		return badRequest("the version in the path must be written without leading zeros, as this server writes it, got %q", raw)
	}
	if refused == outOfRange {
		return badRequest("the version in the path is out of range: it must be at most %d, got %q", int64(1<<63-1), raw)
	}
	if refused != 0 || version < 1 {
		return badRequest("the version in the path must be a whole number ≥ 1, got %q", raw)
	}
	if err := s.awaitPageMinPosition(r); err != nil {
		return err
	}
	e, err := s.store.Event(r.Context(), id, version)
	if err != nil {
		return err
	}
	if err := noTagMatches(r, "an event"); err != nil {
		return err
	}
	if noneMatchesAny(r) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	b := append(encodeEvent(nil, e), '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	// Once the status is sent, a failed write means the client left.
	w.Write(b) //nolint:errcheck
	return nil
}

func (s *Server) readAll(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "after", "limit", "stream_type", "type")
	if err != nil {
		return err
	}
	var opts eventstore.ReadAllOptions
	if opts.After, err = intParam(q, "after", 0, 0, 1<<63-1); err != nil {
		return err
	}
	if opts.Limit, err = limitParam(q); err != nil {
		return err
	}
	if opts.StreamTypes, err = namesParam(q, "stream_type"); err != nil {
		return err
	}
	if opts.EventTypes, err = namesParam(q, "type"); err != nil {
		return err
	}
	if err := noTagMatches(r, "the log"); err != nil {
		return err
	}
	if wantsEvents(r) {
		return s.subscribeLog(w, r, opts)
	}
	if err := noLastEventID(r, "after=<position> (the events after it)", q.Has("after"),
		func(last int64) bool { return last == opts.After }); err != nil {
		return err
	}
	if err := s.awaitPageMinPosition(r); err != nil {
		return err
	}
	if noneMatchesAny(r) { // a page of the log, even an empty one, is there: nothing to read
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	// As for a stream's pages; a HEAD reads no page after its own, and of
	// its own only the first event (headEvents), which the store reads
	// alone, with the page's positions.
	opts.ReadAhead = opts.After > 0 && r.Method != http.MethodHead
	opts.FirstOnly = r.Method == http.MethodHead
	page, err := s.store.ReadAll(r.Context(), opts)
	if err != nil {
		return err
	}
	start := func(h http.Header, b []byte) []byte {
		if page.More {
			next := url.Values{"after": {strconv.FormatInt(page.Last, 10)}, "limit": {strconv.Itoa(opts.Limit)}}
			if len(opts.StreamTypes) > 0 {
				next.Set("stream_type", strings.Join(opts.StreamTypes, ","))
			}
			if len(opts.EventTypes) > 0 {
				next.Set("type", strings.Join(opts.EventTypes, ","))
			}
			h.Set("Link", "</events?"+next.Encode()+`>; rel="next"`)
		}
		return append(b, `{"events":[`...)
	}
	if r.Method == http.MethodHead {
		return headEvents(w, page.Events, start)
	}
	return s.writeEvents(w, r, page.Events, start)
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "the list of streams"); err != nil {
		return err
	}
	q, err := query(r, "stream_type", "after", "limit")
	if err != nil {
		return err
	}
	var opts eventstore.ListStreamsOptions
	if opts.Limit, err = limitParam(q); err != nil {
		return err
	}
	if opts.StreamTypes, err = namesParam(q, "stream_type"); err != nil {
		return err
	}
	if after := q.Get("after"); after != "" {
		if opts.After, err = eventstore.ParseUUID("after", after); err != nil {
			return badRequest("query parameter after must be the cursor from a next link (a stream id), got %q", after)
		}
	}
	if err := noTagMatches(r, "a list of streams"); err != nil {
		return err
	}
	if err := s.awaitPageMinPosition(r); err != nil {
		return err
	}
	if noneMatchesAny(r) { // as a page of the log's
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	list, err := s.store.ListStreams(r.Context(), opts)
	if err != nil {
		return err
	}
	out := struct {
		Streams []streamJSON `json:"streams"`
	}{Streams: make([]streamJSON, len(list.Streams))}
	for i, st := range list.Streams {
		out.Streams[i] = toStreamJSON(st)
	}
	if list.More {
		next := url.Values{"after": {list.Streams[len(list.Streams)-1].ID.String()}, "limit": {strconv.Itoa(opts.Limit)}}
		if len(opts.StreamTypes) > 0 {
			next.Set("stream_type", strings.Join(opts.StreamTypes, ","))
		}
		w.Header().Set("Link", "</streams?"+next.Encode()+`>; rel="next"`)
	}
	return writeJSON(w, http.StatusOK, out)
}

// writeEvents streams a JSON document whose tail is an array of events:
// start sets the headers and returns the document's opening, then events are
// written as they are read, so a page is never held in memory whole.
//
// The status is sent only with the first event (or at the end), so that a
// read that fails at once still gets a proper error response. A failure after
// that cuts the connection, so the client cannot take a truncated page for
// a whole one.
func (s *Server) writeEvents(w http.ResponseWriter, r *http.Request, events iter.Seq2[eventstore.Event, error],
	start func(h http.Header, b []byte) []byte) error {
	pb := pageBuffers.Get().(*pageBuffer)
	var bw *bufio.Writer
	buf := pb.event
	defer func() {
		pb.w.Reset(nil) // lets go of the response, and of what a cut one left unwritten
		if cap(buf) <= maxPooledEventBytes {
			pb.event = buf[:0]
			pageBuffers.Put(pb)
		}
	}()
	begin := func() {
		buf = start(w.Header(), buf[:0])
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		bw = pb.w
		bw.Reset(w)
		bw.Write(buf) //nolint:errcheck // bufio keeps the first error for Flush
	}
	for e, err := range events {
		if err != nil {
			if bw == nil {
				return err
			}
			s.log.Error("read failed mid-response; cutting the connection", "path", s.logPath(r), "error", s.redactError(err))
			panic(http.ErrAbortHandler)
		}
		if bw == nil {
			begin()
		} else {
			bw.WriteByte(',') //nolint:errcheck
		}
		buf = encodeEvent(buf[:0], e)
		if _, err := bw.Write(buf); err != nil {
			return nil // the client left; stop reading
		}
	}
	if bw == nil {
		begin()
	}
	bw.WriteString("]}\n") //nolint:errcheck
	bw.Flush()             //nolint:errcheck // the status is sent; a failed write means the client left
	return nil
}

// headEvents answers HEAD of a page that writeEvents would write with
// start: its headers, ETag and Link included, which come from the stream's
// row or the log page's positions, not its events, and none of its events,
// which the store reads only as they are iterated (HEAD read the whole page
// to throw it away). It has no Content-Length, which only the body gives
// (net/http sets none for a HEAD whose handler wrote no byte): a GET of a
// small page has one, and a HEAD that said another length would be wrong.
// It reads the page's first event (a stream's, read with FirstOnly, yield
// that one at most), as the GET sends its status only with it: a first
// event that cannot be read (a damaged event, the database lost) fails the
// HEAD as it fails the GET. A fault the GET would meet past its first
// event a HEAD does not see.
func headEvents(w http.ResponseWriter, events iter.Seq2[eventstore.Event, error], start func(h http.Header, b []byte) []byte) error {
	for _, err := range events {
		if err != nil {
			return err
		}
		break
	}
	start(w.Header(), nil)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return nil
}

// pageBuffers holds what writeEvents writes pages through: a buffer for one
// event's JSON, and a writer that gathers events into writes of 32 KB. A
// client polling near the head mostly reads one event or none, and each such
// read made both again (36 KB); a response holds them only while it writes.
var pageBuffers = sync.Pool{New: func() any {
	return &pageBuffer{event: make([]byte, 0, 4096), w: bufio.NewWriterSize(nil, 32<<10)}
}}

type pageBuffer struct {
	event []byte
	w     *bufio.Writer
}

// maxPooledEventBytes: a buffer grown by a large event is left to the
// garbage collector rather than kept in the pool.
const maxPooledEventBytes = 64 << 10
