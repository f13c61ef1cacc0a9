package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// ProblemBase prefixes every problem type: a problem's type is
// ProblemBase + slug, e.g. https://tributary.dev/problems/wrong-expected-version.
const ProblemBase = "https://tributary.dev/problems/"

// Errors of the HTTP layer itself, mapped to statuses alongside the domain's.
var (
	errBadRequest       = errors.New("bad request")
	errNotFound         = errors.New("not found")
	errMethodNotAllowed = errors.New("method not allowed")
	errTooLarge         = errors.New("request too large")
	errRequestTimeout   = errors.New("request timeout")
	errUnsupportedMedia = errors.New("unsupported media type")
	errNotAcceptable    = errors.New("not acceptable")
	errStartAhead       = errors.New("starting point ahead of the log")
	errPrecondition     = errors.New("precondition failed")
	// errNotImplemented is a Transfer-Encoding net/http does not take,
	// refused before any handler runs (unsupportedTransferEncoding).
	errNotImplemented = errors.New("transfer encoding not implemented")
	// errTooManySubscribers is a 503: the limit is this instance's, and
	// another instance, or this one shortly, may have room.
	errTooManySubscribers = errors.New("too many subscribers")
	// errBodiesInFlight is a 503 too: the bodies being received now hold
	// all of this instance's budget for them.
	errBodiesInFlight = errors.New("too many request bodies in flight")
	// errClientShare marks a 503 of a limit one client reached, its share
	// of subscriptions or of the bodies in flight: its log line names the
	// client (clientName), for an operator to act on.
	errClientShare = errors.New("the client holds its share")
	// errCut is the cause a request's context ends with when the server
	// cuts what still runs (Cut): a 503 too, since another instance, or
	// this one once it is back, can serve it.
	errCut = errors.New("cut by the server's stop")
	// errClientSubscribers and errClientBodies are those two 503s.
	errClientSubscribers = fmt.Errorf("%w: %w", errTooManySubscribers, errClientShare)
	errClientBodies      = fmt.Errorf("%w: %w", errBodiesInFlight, errClientShare)
)

// badRequest returns an error that is answered with 400 and the given
// detail, as problemf.
func badRequest(format string, args ...any) error {
	return problemf(errBadRequest, format, args...)
}

// count says n of noun, whose plural adds an s: "1 request", "2 requests".
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(int64(n), 10) + " " + noun + "s"
}

// problemf returns an error of kind whose detail is format with args. A
// string among args is what the request sent: the problem quotes it with
// every known token REDACTED, then cut to at most 1 KiB (logCut; net/http
// takes a request line or header of up to a megabyte, and a problem that
// quoted it whole was as large), in that order, so that no cut leaves a
// part of a token (writeError).
func problemf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, format: format, args: args}
}

// detailError carries the detail to show a client for one of the errors
// above: detail, or format with args (problemf).
type detailError struct {
	kind   error
	detail string
	format string
	args   []any
}

func (e *detailError) Error() string { return e.quote(asDecoded) }
func (e *detailError) Unwrap() error { return e.kind }

// quote is the detail, each string of args given to redact and then cut
// (logCut).
func (e *detailError) quote(redact func(string) string) string {
	if e.format == "" {
		return e.detail
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		if s, ok := a.(string); ok {
			a = logCut(redact(s))
		}
		args[i] = a
	}
	return fmt.Sprintf(e.format, args...)
}

// problemKind is one row of the error table.
type problemKind struct {
	err    error
	status int
	slug   string
	title  string
}

// problemKinds maps errors to statuses, in one place, walked with errors.Is.
// Anything not listed is a 500 whose details go only to the log.
var problemKinds = []problemKind{
	{errUnauthorized, http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	{errForbidden, http.StatusForbidden, "forbidden", "Forbidden"},
	{errBadRequest, http.StatusBadRequest, "bad-request", "Bad request"},
	{eventstore.ErrInvalid, http.StatusBadRequest, "bad-request", "Bad request"},
	{eventstore.ErrStreamTypeRequired, http.StatusBadRequest, "bad-request", "Bad request"},
	{eventstore.ErrStreamNotFound, http.StatusNotFound, "not-found", "Not found"},
	{eventstore.ErrEventNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	{eventstore.ErrWrongExpectedVersion, http.StatusConflict, "wrong-expected-version", "Wrong expected version"},
	{eventstore.ErrDuplicateEventID, http.StatusConflict, "duplicate-event-id", "Duplicate event id"},
	{eventstore.ErrIdempotencyKeyReused, http.StatusConflict, "idempotency-key-reused", "Idempotency key reused"},
	{eventstore.ErrStreamTypeMismatch, http.StatusConflict, "stream-type-mismatch", "Stream type mismatch"},
	{errStartAhead, http.StatusConflict, "starting-point-ahead", "Starting point ahead"},
	{errPrecondition, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed"},
	{errRequestTimeout, http.StatusRequestTimeout, "request-timeout", "Request timeout"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Request too large"},
	{eventstore.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Request too large"},
	{errUnsupportedMedia, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	{errNotAcceptable, http.StatusNotAcceptable, "not-acceptable", "Not acceptable"},
	{errNotImplemented, http.StatusNotImplemented, "not-implemented", "Not implemented"},
	{eventstore.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	{errTooManySubscribers, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	{errBodiesInFlight, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	{errCut, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	// A request that ran out of time waited on the database.
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

var internalKind = problemKind{nil, http.StatusInternalServerError, "internal", "Internal server error"}

// retryAfterSeconds is what a 503 tells clients to wait (retryAfter).
const retryAfterSeconds = 2

// errTooManyConnections is the refusal of a connection past
// TRIBUTARY_MAX_CONNECTIONS or its share of one client (Connections): a
// 503 written before any request is read, so not by writeError.
var errTooManyConnections = errors.New("too many connections")

// retryAfter is the Retry-After header of a 503 answering err, or "" for
// none: the one place the rule is written, for writeError and for the
// refusal of a connection (Connections.refusal). API.md asks it of every
// 503: a database out of reach or out of time, a limit of this instance's
// (subscribers, bodies in flight, connections), a stop. But not of a
// damaged or overwritten embedded file, or one whose WAL was removed
// (eventstore.ErrDamaged, ErrOverwritten, ErrRestartNeeded): no retry
// mends it (its detail says so), and clients that obey Retry-After would
// loop on it. Nor of an embedded store's file system that failed
// (eventstore.ErrStorageFailed), but for an append whose outcome is
// unknown: that one is told to retry with its event ids. Nor of a table,
// a column, an index or the database missing (eventstore.MissingError),
// nor of a column the store does not write, NOT NULL without a default
// (eventstore.UnwrittenColumnError, a missing column's twin): an operator
// must restore, make or drop it (its detail says how), and a client
// obeying Retry-After: 2 retried for ever.
func retryAfter(err error) string {
	if errors.Is(err, eventstore.ErrDamaged) || errors.Is(err, eventstore.ErrOverwritten) || errors.Is(err, eventstore.ErrRestartNeeded) {
		return ""
	}
	if (errors.Is(err, eventstore.ErrStorageFailed) || errors.As(err, new(*eventstore.MissingError)) || errors.As(err, new(*eventstore.UnwrittenColumnError))) &&
		!errors.Is(err, eventstore.ErrOutcomeUnknown) {
		return ""
	}
	return strconv.Itoa(retryAfterSeconds)
}

// writeError answers a failed request with RFC 9457 problem details. It is
// the one place where errors become statuses, and where 5xx are logged. A
// request whose status is already sent (a handler that panicked midway
// through its answer) can get no problem: its connection is cut instead.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	cut := errors.Is(context.Cause(r.Context()), errCut) && !statusSent(r)
	if cut {
		// Its context was ended by the stop (Cut), not by its client, who
		// is still there to be told. An append whose commit was under way
		// is told that it may have been written, as ever.
		switch {
		case errors.Is(err, context.Canceled) && !errors.Is(err, eventstore.ErrOutcomeUnknown):
			err = cutError(err)
		case errors.Is(err, errRequestTimeout) && bodyStillComing(r):
			// Its body's read, ended by the cut (Cut), not by its time:
			// nothing was written.
			err = cutError(&appendError{err})
		}
		w.Header().Set("Connection", "close") // the connection closes as the stop ends
	}
	if !cut && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is no one to answer.
		s.log.Debug("client went away", "method", s.logMethod(r.Method), "path", s.logPath(r), "request_id", s.loggedRequestID(r.Context()))
		return
	}
	if statusSent(r) {
		// A problem written now would follow what was sent under the first
		// status, and net/http would end the response cleanly: the client
		// would take it for a whole answer. Cut it, as writeEvents does.
		s.log.Error("request failed after its status was sent; cutting the connection", "method", s.logMethod(r.Method), "path", s.logPath(r),
			"request_id", s.loggedRequestID(r.Context()), "error", s.redactError(err))
		panic(http.ErrAbortHandler)
	}
	kind, p := s.problem(err)
	h := w.Header()
	var wev *eventstore.WrongExpectedVersionError
	var dup *eventstore.DuplicateEventError
	var reused *eventstore.IdempotencyKeyReusedError
	var mm *eventstore.StreamTypeMismatchError
	var ahead *aheadError
	switch {
	case errors.As(err, &ahead):
		p["requested"], p["current"] = ahead.requested, ahead.current
	case errors.As(err, &wev):
		if n, ok := wev.Expected.Number(); ok {
			p["expected_version"] = n
		} else {
			p["expected_version"] = "*"
		}
		p["current_version"] = wev.Current
		h.Set("ETag", etag(wev.Current))
	case errors.As(err, &dup):
		p["event_id"] = dup.EventID.String()
	case errors.As(err, &reused):
		p["event_id"] = reused.EventID.String()
	case errors.As(err, &mm):
		p["stream_type"] = mm.Stored
	}
	switch kind.status {
	case http.StatusServiceUnavailable:
		if v := retryAfter(err); v != "" {
			h.Set("Retry-After", v)
		}
	case http.StatusMethodNotAllowed:
		h.Set("Allow", allowed(s.router, routingPath(r)))
	case http.StatusUnauthorized:
		challenge := `Bearer realm="tributary"`
		if _, err := presentedToken(r); err == nil { // a token came, but not a valid one
			challenge += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", challenge)
	case http.StatusForbidden:
		// A valid token that does not allow the request: RFC 6750 §3 asks
		// for a challenge here too, saying so.
		h.Set("WWW-Authenticate", `Bearer realm="tributary", error="insufficient_scope"`)
	}
	if cause := storeCause(err); cause != "" && kind.status == http.StatusServiceUnavailable {
		s.opts.Metrics.StoreError(cause)
	}
	if kind.status >= 500 {
		level := slog.LevelError
		var probe *probeError
		switch {
		case errors.As(err, &probe):
			// /readyz's 503 for the database, a probe every few seconds
			// for as long as it is out of service: its start and its end
			// are logged once each (notReady), this only for who asks.
			level = slog.LevelDebug
			if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
				e.probe = true
			}
		case errors.Is(err, errStopping), errors.Is(err, errCut):
			// Asked for, during the shutdown delay, or a page read's wait
			// that shutdown ended (awaitPageMinPosition): no fault to
			// alert on.
			level = slog.LevelInfo
		case errors.Is(err, errTooManySubscribers), errors.Is(err, errBodiesInFlight):
			// A limit doing its work, not a fault: a client retrying in a
			// loop, or sending a few bodies slowly, must not fill the error
			// log. Its access line says so too.
			level = slog.LevelWarn
			if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
				e.refused = true
			}
		}
		attrs := []any{"method", s.logMethod(r.Method), "path", s.logPath(r), "status", kind.status,
			"request_id", s.loggedRequestID(r.Context()), "error", s.redactError(err)}
		if errors.Is(err, errClientShare) {
			attrs = append(attrs, "client", s.clientName(r))
		}
		logIt := true
		if cause := storeCause(err); level == slog.LevelError && standingCauses[cause] {
			// A standing condition: its first request in a window says it,
			// the others with the same error only their access line
			// (standingLog).
			var unlogged int
			logIt, unlogged = s.standing.note(cause, err)
			attrs = append(attrs, "cause", cause)
			if unlogged > 0 {
				attrs = append(attrs, "unlogged_like_it", unlogged)
			}
			if !logIt {
				if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
					e.unlogged = true
				}
			}
		}
		if logIt {
			s.log.Log(r.Context(), level, "request failed", attrs...)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // a detail such as "Bearer <token>" reads as written
	if err := enc.Encode(p); err != nil {
		s.log.Error("encode problem", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	closeUnread(w, r, err)
	h.Set("Content-Length", strconv.Itoa(buf.Len())) // not one a handler set before it failed
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	noStore(h)
	w.WriteHeader(kind.status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client may be gone; nothing to do
}

// problem is err's row of the error table and the problem+json fields
// every answer of it carries (type, title, status, detail).
func (s *Server) problem(err error) (problemKind, map[string]any) {
	kind := internalKind
	for _, k := range problemKinds {
		if errors.Is(err, k.err) {
			kind = k
			break
		}
	}
	return kind, map[string]any{
		"type":   ProblemBase + kind.slug,
		"title":  kind.title,
		"status": kind.status,
		"detail": s.redactDetail(err, kind),
	}
}

// storeCause is the cause tributary_store_errors_total counts err under, a
// 503 from the database; "" for any other error (a limit's 503, the
// shutdown delay's, a 4xx). A fixed few, from the store's sentinels: no
// word of what the error says. The first that holds wins: an append of
// unknown outcome is one, whatever else failed with it.
func storeCause(err error) string {
	if errors.Is(err, errStopping) || !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		return ""
	}
	var missing *eventstore.MissingError
	var ne net.Error
	switch {
	case errors.Is(err, eventstore.ErrDamaged):
		return metrics.CauseDamaged
	case errors.Is(err, eventstore.ErrOverwritten):
		return metrics.CauseOverwritten
	case errors.Is(err, eventstore.ErrRestartNeeded):
		return metrics.CauseRestartNeeded
	case errors.Is(err, eventstore.ErrOutcomeUnknown):
		return metrics.CauseOutcomeUnknown
	case errors.Is(err, eventstore.ErrStorageFailed):
		// Counted apart from the catch-all: /readyz says appends are
		// refused for it (refusingCauses), as for a full disk.
		return metrics.CauseStorageFailed
	case errors.As(err, &missing):
		return metrics.CauseMissing
	case errors.Is(err, eventstore.ErrFull):
		return metrics.CauseFull
	case errors.Is(err, eventstore.ErrNotDurable):
		return metrics.CauseNotDurable
	case errors.Is(err, eventstore.ErrRefused):
		return metrics.CauseRefused
	case errors.Is(err, eventstore.ErrReplicaOtherLog):
		return metrics.CauseReplicaOtherLog
	case errors.Is(err, context.DeadlineExceeded):
		return metrics.CauseTimeout
	case errors.As(err, &ne):
		// The driver's dial or read of the database's address failed.
		return metrics.CauseUnreachable
	}
	return metrics.CauseUnavailable
}

// redactError is err's text for the log, with every known token in it
// REDACTED, and every run of characters that shares part of one (a token
// mistyped or cut short) <invalid: N bytes> (redactLogged): errors quote
// what a request named (a store's "read stream <id>: …"), and a client
// may name a token there, as anywhere, encoded or not.
func (s *Server) redactError(err error) string {
	return s.auth.redactLogged(err.Error())
}

// redactDetail is the detail of err's problem (detail) with every known
// token REDACTED: a problem quotes what the request sent (a path, a stream
// id, a parameter, a header), and what a client is answered goes on into
// its logs and its proxies'. What the request sent is redacted before it
// is cut (problemf).
func (s *Server) redactDetail(err error, kind problemKind) string {
	var de *detailError
	if errors.As(err, &de) && kind.status != http.StatusInternalServerError {
		return s.auth.redactEncoded(de.quote(func(q string) string { return s.auth.redactEncoded(q, asDecoded) }), asDecoded)
	}
	return s.auth.redactEncoded(detail(err, kind), asDecoded)
}

// detail is the human-readable explanation shown to the client.
func detail(err error, kind problemKind) string {
	var de *detailError
	var ve *eventstore.ValidationError
	switch {
	case kind.status == http.StatusInternalServerError:
		return "The server failed to handle the request; the error is in its log."
	case errors.As(err, &de):
		return de.Error()
	case errors.Is(err, errStartAhead):
		return err.Error()
	case kind.status == http.StatusServiceUnavailable:
		return unavailableDetail(err)
	case errors.As(err, &ve):
		return ve.Error()
	case errors.Is(err, eventstore.ErrStreamTypeRequired):
		return "stream_type is required to create a stream; give it in the request body."
	}
	// Domain errors describe themselves; strip the operation context that
	// wraps them ("append to …: ") by reporting the innermost typed message.
	var wev *eventstore.WrongExpectedVersionError
	var dup *eventstore.DuplicateEventError
	var reused *eventstore.IdempotencyKeyReusedError
	var mm *eventstore.StreamTypeMismatchError
	switch {
	case errors.As(err, &wev):
		return wev.Error()
	case errors.As(err, &dup):
		return dup.Error()
	case errors.As(err, &reused):
		return reused.Error()
	case errors.As(err, &mm):
		return mm.Error()
	}
	return err.Error()
}

// earlierStored follows "this append was not written" in a 503's detail: a
// retry of a batch already stored (the same event ids) that wrote nothing
// must not read as if its events were not stored.
const earlierStored = " (what an earlier request stored with the same event ids stays stored)"

// cutError is the 503 of a request whose handler returned err, its
// context's end, as the stop cut it (Cut): for an append, the store
// returns its context's error only where nothing was written (an append
// that may have committed is answered as such, ErrOutcomeUnknown).
func cutError(err error) error {
	written := notWritten(err)
	return &detailError{kind: errCut, detail: "The server is stopping, and its time for requests still running is over." + written +
		" Send the request again, to another instance or to this one once it is back, after Retry-After."}
}

// notWritten ends a 503's detail for an append (err holds its appendError)
// with that it was not written; any other request's detail says nothing of
// appends, and gets "".
func notWritten(err error) string {
	var ae *appendError
	if errors.As(err, &ae) {
		return " This append was not written" + earlierStored + "."
	}
	return ""
}

// appendError is the store's error for an append: a 503 for it says what
// became of the events (unavailableDetail), which only an append can tell.
type appendError struct{ err error }

func (e *appendError) Error() string { return e.err.Error() }
func (e *appendError) Unwrap() error { return e.err }

// unavailableDetail is the detail of a 503 from the database: for an
// append, whether its events were written, as the store tells it (a client
// without event ids that is told "not written" sends them again); for any
// other request, nothing of appends.
func unavailableDetail(err error) string {
	var ae *appendError
	var missing *eventstore.MissingError
	var unwritten *eventstore.UnwrittenColumnError
	switch {
	case errors.Is(err, eventstore.ErrHeadBehind):
		written := notWritten(err)
		return "The database's log head is behind the events it holds (a restore from dumps taken apart, or a write to its events " +
			"not through this service): every append would take a position already taken, and retrying will not help until an " +
			"operator mends the head (the server's log gives the statement)." + written
	case errors.Is(err, eventstore.ErrDamaged):
		// Before an append's outcome: the damage stops it before COMMIT.
		// Only an append's says so: a read's says nothing of appends.
		written := notWritten(err)
		// Of either store, and not only a file's: a row of streams missing
		// (sqlstore) is mended by a statement the log gives, not a backup.
		return "The database holds damage where this request reads or writes: retrying will not help until an operator mends " +
			"it (the server's log says what is damaged, and how to mend it)." + written
	case errors.Is(err, eventstore.ErrOverwritten):
		// Before an append's writes: the look for a copy over the file
		// runs under the write lock, before a group writes.
		written := notWritten(err)
		return "The server's database file was overwritten while it ran, not through SQLite (a copy over it?): retrying will not help " +
			"until an operator stops the server and puts the file right (the server's log says how)." + written
	case errors.Is(err, eventstore.ErrMoved):
		// Before an append's writes, as the file's other checks. Its
		// words were an outage's ("cannot be reached"): the file is
		// local, only gone. Retry-After stays: put back, it serves again.
		written := notWritten(err)
		return "The server's database file was moved or removed while the server ran: requests are refused until an operator puts it back " +
			"(or restarts the server where it is now; the server's log names the file)." + written + " Try again after Retry-After."
	case errors.Is(err, eventstore.ErrRestartNeeded):
		// Before an append's writes, as the file's other checks.
		written := notWritten(err)
		return "The server's database files were changed under it while it ran (its WAL removed or replaced): retrying will not help " +
			"until an operator stops the server cleanly and starts it again (the server's log says so)." + written
	case errors.As(err, &ae) && errors.Is(err, eventstore.ErrOutcomeUnknown) && errors.Is(err, eventstore.ErrDurabilityUnconfirmed):
		// A retry of a stored batch, answered once what it read is
		// durable, whose wait for that failed (sqlstore's writer).
		return "This batch is already stored (this request repeats it), but the database could not confirm in time that it is durable: " +
			"a crash of the database could still take it back. Retry it with the same event ids after Retry-After: " +
			"once it is confirmed it answers 200 and writes nothing again (and should a crash have taken it back, it is written again)."
	case errors.As(err, &ae) && errors.Is(err, eventstore.ErrOutcomeUnknown):
		d := "The database failed while this append was being committed, and whether it committed could not be found out: " +
			"it may have been written. Retry it with the same event ids, which is safe: a batch already stored answers 200 " +
			"and writes nothing again. Without event ids, read the stream first: the events may be there."
		// What failed beneath the COMMIT refuses the appends after it
		// too (refusingCause): a retry every 2 s fails alike until an
		// operator mends it. Retry-After stays: the retry is still due.
		switch {
		case errors.Is(err, eventstore.ErrStorageFailed):
			d += " What failed is the database's storage (an I/O error on its files): appends fail until an operator mends it " +
				"(the server's log says what failed); retry then."
		case errors.Is(err, eventstore.ErrDiskFull):
			d += " What failed is room: the file system that holds the database has no room left (or a quota on it is used up), " +
				"and appends fail until an operator frees space there (or raises the quota); retry then."
		case errors.Is(err, eventstore.ErrFull):
			d += " What failed is room: the database is full, and appends fail until an operator frees space on its disk " +
				"or lets its tablespace grow; retry then."
		}
		return d
	case errors.Is(err, eventstore.ErrStorageFailed):
		// After an append's unknown outcome, which is told first. Its
		// words were an outage's, "try again", with Retry-After: clients
		// retried forever what only an operator mends.
		written := notWritten(err)
		return "The server's database storage failed (no writable directory for the database's temporary files, or an I/O error " +
			"reading or writing its files): retrying will not help until an operator mends it (the server's log says what failed)." + written
	case errors.Is(err, eventstore.ErrFull):
		// Retry-After stays: once an operator makes room, it serves again.
		written := notWritten(err)
		if errors.Is(err, eventstore.ErrDiskFull) {
			// The embedded store's file: no tablespace to grow.
			return "The database is full: the file system that holds it has no room left (or a quota on it is used up), and it can " +
				"store nothing more until an operator frees space there (or raises the quota)." + written + " Try again after Retry-After."
		}
		return "The database is full: it can store nothing more until an operator frees space on its disk or lets its " +
			"tablespace grow." + written + " Try again after Retry-After."
	case errors.As(err, &unwritten):
		// As a missing column's: named, without Retry-After (retryAfter):
		// the appends pass again only once an operator drops the column.
		written := notWritten(err)
		d := unwritten.Error()
		return strings.ToUpper(d[:1]) + d[1:] + "." + written
	case errors.As(err, &missing):
		// Without Retry-After (retryAfter): it serves again only once an
		// operator restores or makes it again.
		written := notWritten(err)
		d := missing.Error()
		return strings.ToUpper(d[:1]) + d[1:] + "." + written
	case ae != nil && errors.Is(err, eventstore.ErrNotDurable):
		// Refused as a session of the writer's opened: before any write.
		return "The database's server runs with settings that let a crash of it lose acknowledged commits (its settings changed " +
			"while the service ran; the service's log names them): every append is refused until an operator fixes them. " +
			"This append was not written" + earlierStored + ". Try again after Retry-After."
	case errors.Is(err, eventstore.ErrRefused):
		// A refusal stands until an operator mends it: Retry-After stays,
		// as it serves again once the operator has. Its words were an
		// outage's ("cannot be reached"), which sent an operator to the
		// network.
		written := notWritten(err)
		var denied *eventstore.PrivilegeError
		if errors.As(err, &denied) {
			who := "The database"
			if denied.Replica {
				who = "The read replica"
			}
			return who + " denies the service's user " + denied.Denied() + ": requests that need it are refused until an operator grants it again (" +
				denied.Grant() + ")." + written + " Try again after Retry-After."
		}
		return "The database refuses the service's user or its writes (a privilege revoked, its account locked, its password changed or expired, " +
			"or the server read-only): requests are refused until an operator mends it (the server's log says which, and how)." + written +
			" Try again after Retry-After."
	case errors.Is(err, eventstore.ErrReplicaOtherLog):
		// Reads alone go to the replica. Its words were an outage's ("cannot
		// be reached"): the replica answers, with a log not the primary's.
		return "The read replica serves another log than the primary's (its head past the primary's, another event than the " +
			"primary's at a position, or an event the primary has missing from it): reads are refused until an operator mends it " +
			"(the server's log says what was found; rebuild the replica from the primary); appends go on, on the primary. " +
			"Try again after Retry-After."
	case ae == nil && fromReadReplica(err):
		return "The read replica (TRIBUTARY_MYSQL_READ_DSN) has not answered: reads and subscriptions are refused until it answers " +
			"again; appends go on, on the primary. Try again after Retry-After."
	case ae != nil && errors.Is(err, context.DeadlineExceeded):
		return "The database could not take this append within the request's time (its write lock was busy, or it was slow to answer): " +
			"it was not written, and will not be" + earlierStored + ". Try again after Retry-After."
	case ae != nil:
		return "The database cannot be reached, or cannot write, right now: this append was not written" + earlierStored + ". Try again after Retry-After."
	case errors.Is(err, context.DeadlineExceeded):
		return "The database did not answer within the request's time. Try again after Retry-After."
	}
	return "The database cannot be reached, or cannot serve this request, right now. Try again after Retry-After."
}

// fromReadReplica reports whether err is marked as the read replica's
// outage (the MySQL store marks a read its replica's stall watch refused
// or cut), not the primary's.
func fromReadReplica(err error) bool {
	var r interface{ ReadReplica() bool }
	return errors.As(err, &r) && r.ReadReplica()
}
