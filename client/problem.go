package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The errors a *Problem matches with errors.Is, by its problem type.
var (
	// ErrWrongExpectedVersion: the stream was not at the expected version;
	// Problem.CurrentVersion says where it is.
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	// ErrDuplicateEventID: an event id is used by another stream (whatever
	// its content) or by a batch the request does not repeat whole.
	ErrDuplicateEventID = errors.New("duplicate event id")
	// ErrIdempotencyKeyReused: an event id stored in the request's stream was
	// sent with other content.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused")
	// ErrStreamTypeMismatch: the stream_type differs from the stream's.
	ErrStreamTypeMismatch = errors.New("stream type mismatch")
	// ErrStartingPointAhead: a subscription started past the stream's
	// version or the log's head (Problem.Requested, Problem.Current).
	ErrStartingPointAhead = errors.New("starting point ahead")
	// ErrNotFound: no such stream or event.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: no token, or one the server does not know.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: a read token tried to append.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the server cannot serve now; Problem.RetryAfter says
	// when to try again.
	ErrUnavailable = errors.New("unavailable")
	// ErrBadRequest: the server refused the request as malformed.
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge: a body, batch or event over the server's limits.
	ErrTooLarge = errors.New("too large")
	// ErrMethodNotAllowed: the server takes no such method on the path (a
	// gateway in front that changed it, or a base URL that is not the
	// service's); its Allow header says which it takes.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrPreconditionFailed: a read's If-Match did not hold (412).
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrServerRequestTimeout: the server's request-timeout (408), the
	// request's body did not reach it in the time it allows; nothing was
	// written, and the same request may be sent again. Unlike
	// ErrRequestTimeout, which is the client's own bound on waiting for
	// an answer, it is an answer.
	ErrServerRequestTimeout = errors.New("the server's request timeout")
	// ErrUnsupportedMediaType: the body's Content-Type, charset or
	// Content-Encoding is not one the server reads (415).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrNotAcceptable: the request's Accept took only an event stream
	// from a URL that serves JSON alone (406).
	ErrNotAcceptable = errors.New("not acceptable")
	// ErrInternal: the server failed in a way it does not explain (500);
	// Problem.RequestID names its log line.
	ErrInternal = errors.New("internal server error")
	// ErrNotImplemented: the request's Transfer-Encoding is not one the
	// server takes (501): a gateway in front rewrote its framing.
	ErrNotImplemented = errors.New("not implemented")
)

// problemBase prefixes every problem type the server sends.
const problemBase = "https://tributary.dev/problems/"

var problemErrors = map[string]error{
	"wrong-expected-version": ErrWrongExpectedVersion,
	"duplicate-event-id":     ErrDuplicateEventID,
	"idempotency-key-reused": ErrIdempotencyKeyReused,
	"stream-type-mismatch":   ErrStreamTypeMismatch,
	"starting-point-ahead":   ErrStartingPointAhead,
	"not-found":              ErrNotFound,
	"unauthorized":           ErrUnauthorized,
	"forbidden":              ErrForbidden,
	"unavailable":            ErrUnavailable,
	"bad-request":            ErrBadRequest,
	"too-large":              ErrTooLarge,
	"method-not-allowed":     ErrMethodNotAllowed,
	"precondition-failed":    ErrPreconditionFailed,
	"request-timeout":        ErrServerRequestTimeout,
	"unsupported-media-type": ErrUnsupportedMediaType,
	"not-acceptable":         ErrNotAcceptable,
	"internal":               ErrInternal,
	"not-implemented":        ErrNotImplemented,
}

// Problem is an error answer of the server (RFC 9457 problem details). Its
// Title and Detail are kept on one line, without control characters, and
// cut to 1 KiB, as they go into Error() and so into logs; so are Type,
// EventID, StreamType and RequestID, which a caller may log.
// errors.Is matches it against the Err… values by its Type. An answer
// that is no problem details (a proxy's error page) gives one too: its
// status, the status text as its title, and for detail a note that it was
// an HTML page, or an excerpt of its text of at most 200 bytes on one line;
// such a 401 is ErrUnauthorized and such a 503 ErrUnavailable, by status.
type Problem struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// CurrentVersion is the stream's version, for ErrWrongExpectedVersion.
	CurrentVersion int64 `json:"current_version"`
	// EventID names the event of ErrDuplicateEventID and ErrIdempotencyKeyReused.
	EventID string `json:"event_id"`
	// StreamType is the stream's type, for ErrStreamTypeMismatch.
	StreamType string `json:"stream_type"`
	// Requested and Current are a subscription's starting point and where
	// the stream or log is, for ErrStartingPointAhead.
	Requested int64 `json:"requested"`
	Current   int64 `json:"current"`
	// RetryAfter is the answer's Retry-After, for ErrUnavailable or a 429:
	// what the server (or a proxy in front) asked for, uncapped, up to the
	// longest Duration. A proxy's mistake (a date in the year 9999) makes
	// it centuries: bound it before waiting on it, as Subscribe does (5
	// minutes, or MaxBackoff if longer).
	RetryAfter time.Duration `json:"-"`
	// RequestID is the answer's X-Request-Id, under which the server logged it.
	RequestID string `json:"-"`
	// tributary: the answer is application/problem+json of one of
	// Tributary's problem types, not a proxy's or another server's.
	tributary bool
	// refusesRequest: a plain 400 whose body says it refuses the request
	// itself (refused400), as nginx and Apache answer for what a 431 says.
	refusesRequest bool
	// retryAfterSent: the answer had a Retry-After header. Tributary's 503
	// has one but where no retry mends it (an operator must: operatorMends).
	retryAfterSent bool
}

// operatorMends reports whether p is Tributary's own 503 without
// Retry-After, which it answers only where no retry mends it (an index, a
// table or the database missing, a damaged file: its Detail says what an
// operator must do), not a proxy's.
func (p *Problem) operatorMends() bool {
	return p.tributary && p.Status == http.StatusServiceUnavailable && !p.retryAfterSent
}

// Error is the status, title and detail: "409 Wrong expected version: …".
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// Is reports whether target is the Err… value of p's problem type.
func (p *Problem) Is(target error) bool {
	err, ok := problemErrors[strings.TrimPrefix(p.Type, problemBase)]
	return ok && err == target
}

// readProblem reads an error answer. A body that is no problem still gives
// one, from the status, with a short excerpt of it for detail. A JSON body is read to the end of its value, not
// of the answer, whose end a server or proxy may hold back (do bounds the
// read of any other body in time).
func readProblem(res *http.Response) *Problem {
	body := io.LimitReader(res.Body, 64<<10)
	var seen bytes.Buffer
	var raw json.RawMessage
	b := []byte(nil)
	if err := json.NewDecoder(io.TeeReader(body, &seen)).Decode(&raw); err == nil {
		b = raw
	} else {
		rest, _ := io.ReadAll(body) // no JSON: all of it, for the detail
		b = append(seen.Bytes(), rest...)
	}
	p := decodeProblem(b)
	if p == nil {
		p = &Problem{Detail: excerpt(res.Header.Get("Content-Type"), b)}
		if why := refused400(b); res.StatusCode == http.StatusBadRequest && why != "" {
			p.Detail, p.refusesRequest = why, true
		}
	}
	// They go into Error(), and so into logs, as excerpt's does; the
	// other text members, which a caller logs as they are, likewise.
	p.Title, p.Detail = oneLine(p.Title, problemTextBytes), oneLine(p.Detail, problemTextBytes)
	p.EventID, p.StreamType = oneLine(p.EventID, problemTextBytes), oneLine(p.StreamType, problemTextBytes)
	p.Type = oneLine(p.Type, problemTextBytes) // Tributary's, short URIs, are as they came
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	p.tributary = mt == "application/problem+json" && strings.HasPrefix(p.Type, problemBase)
	p.Status = res.StatusCode // the answer's own status prevails (RFC 9457 §3.1.2)
	if p.Title == "" {
		p.Title = http.StatusText(res.StatusCode)
	}
	if p.Type == "" {
		// An answer of a proxy in front, or one whose body it replaced:
		// its status says as much as Tributary's type would.
		switch res.StatusCode {
		case http.StatusServiceUnavailable:
			p.Type = problemBase + "unavailable"
		case http.StatusUnauthorized:
			p.Type = problemBase + "unauthorized"
		}
	}
	p.RetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
	p.retryAfterSent = res.Header.Get("Retry-After") != ""
	p.RequestID = oneLine(res.Header.Get("X-Request-Id"), problemTextBytes)
	return p
}

// refusedBadRequests are what proxies' fixed 400 pages say of a request
// they refuse for itself, its headers' size above all, which a retry
// sends the same: nginx's (ngx_http_special_response.c, the 494, 497,
// 496 and 495 it answers as 400) and Apache httpd's LimitRequestFieldSize.
var refusedBadRequests = []string{
	"Request Header Or Cookie Too Large",
	"The plain HTTP request was sent to HTTPS port",
	"No required SSL certificate was sent",
	"The SSL certificate error",
	"Size of a request header field exceeds server limit",
}

// refused400Bytes bounds the look for them: each page says it near its
// start, and a 400 that says it further on is no such page.
const refused400Bytes = 1024

// refused400 returns which of refusedBadRequests the start of a 400's
// body says, or "".
func refused400(b []byte) string {
	b = b[:min(len(b), refused400Bytes)]
	for _, why := range refusedBadRequests {
		if bytes.Contains(b, []byte(why)) {
			return why
		}
	}
	return ""
}

// detailBytes bounds the excerpt of an answer that is no problem.
const detailBytes = 200

// excerpt is what Problem.Detail keeps of an error answer that is not
// problem details, which goes into error messages and logs: of an HTML
// page (a proxy's error page: markup, scripts, styles) a note that it was
// one; of anything else the first detailBytes of its text on one line,
// control characters, other spaces and bytes that are no UTF-8 made one
// space.
func excerpt(contentType string, b []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || mt == "application/xhtml+xml" || strings.HasPrefix(http.DetectContentType(b), "text/html") {
		return fmt.Sprintf("the answer is an HTML page of %d bytes, not problem details", len(b))
	}
	return oneLine(string(b), detailBytes)
}

// problemTextBytes bounds a problem's title and detail: Tributary's are
// a few hundred bytes at most.
const problemTextBytes = 1024

// oneLine is s on one line, cut to most bytes: control characters, other
// spaces and bytes that are no UTF-8 made one space, what is cut marked
// with an ellipsis. It is what the client lets into error messages, and so
// into its callers' logs, of the text a server sends.
func oneLine(s string, most int) string {
	var out strings.Builder
	space := true // so that no space comes first
	// Ranging over a string gives RuneError for bytes that are no UTF-8.
	for _, r := range strings.TrimSpace(s) {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = ' '
		}
		if r == ' ' && space {
			continue
		}
		space = r == ' '
		if out.Len()+utf8.RuneLen(r) > most {
			return strings.TrimSpace(out.String()) + "…"
		}
		out.WriteRune(r)
	}
	return strings.TrimSpace(out.String())
}

// decodeProblem reads a problem details object member by member: per RFC
// 9457 §3.1 a member of another JSON type than its definition's is
// ignored, as if absent, and the others are kept; status is advisory and
// may be missing. It returns nil for a body that is no JSON object or has
// none of type, title, status and detail.
func decodeProblem(b []byte) *Problem {
	var members map[string]json.RawMessage
	if json.Unmarshal(b, &members) != nil || members == nil {
		return nil
	}
	p := &Problem{}
	fields := map[string]any{
		"status": &p.Status, "type": &p.Type, "title": &p.Title, "detail": &p.Detail,
		"current_version": &p.CurrentVersion, "event_id": &p.EventID, "stream_type": &p.StreamType,
		"requested": &p.Requested, "current": &p.Current,
	}
	standard := false
	for name, field := range fields {
		raw, ok := members[name]
		if !ok {
			continue
		}
		switch name {
		case "status", "type", "title", "detail":
			standard = true
		}
		json.Unmarshal(raw, field) //nolint:errcheck // a member of the wrong type is ignored
	}
	if !standard {
		return nil
	}
	return p
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds, or an
// HTTP date, as a proxy in front of the server may send; a date past, or a
// value that is neither, is 0, and one past the longest Duration is that
// (t.Sub saturates likewise). Seconds are digits only: ParseInt's sign
// (+5, -5) is no delay-seconds.
func retryAfter(h string, now time.Time) time.Duration {
	// Out of int64's range, ParseInt gives the nearest it holds.
	if s, err := strconv.ParseInt(h, 10, 64); digitsOnly(h) && (err == nil || errors.Is(err, strconv.ErrRange)) {
		// Seconds past the longest Duration are the longest Duration,
		// not a product that overflows, perhaps to a negative.
		return time.Duration(min(max(s, 0), math.MaxInt64/int64(time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// digitsOnly reports whether s is one or more ASCII digits.
func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
