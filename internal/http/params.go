package http

import (
	"iter"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// streamID parses the {streamID} path parameter: a 400 if it is not a
// UUID, or is the nil UUID, which names no stream.
func streamID(r *http.Request) (uuid.UUID, error) {
	id, err := parseUUID("stream_id", chi.URLParam(r, "streamID"))
	if err != nil {
		return uuid.Nil, err
	}
	if id == uuid.Nil {
		// No stream has it (an append refuses it), and to the store and
		// the feed a nil stream id means the whole log: a subscription
		// would get every stream's events.
		return uuid.Nil, eventstore.Invalid("stream_id", "must not be the nil UUID")
	}
	return id, nil
}

// parseUUID is eventstore.ParseUUID, whose refusal of what is not a UUID
// quotes it cut at 64 bytes: one longer is quoted whole here, for
// writeError to cut once its tokens are REDACTED (problemf), as a cut
// first could leave part of a token in the problem.
func parseUUID(field, s string) (uuid.UUID, error) {
	id, err := eventstore.ParseUUID(field, s)
	if err != nil && len(s) > 64 {
		return uuid.Nil, problemf(eventstore.ErrInvalid, field+": must be a UUID like 0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10, got %q", s)
	}
	return id, err
}

// query parses the request's query string strictly: a pair url.ParseQuery
// cannot parse (it would drop it silently), a parameter the endpoint does not
// take, one given twice or one given empty is a 400 naming it, so that a typo
// never widens a filter. access_token is taken on a GET or HEAD: it is the
// browser's way to send a token; on any other method it is refused, with
// access control on or off (tokenInQueryOfWrite).
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed (%v); separate parameters with & and percent-encode reserved characters", err)
	}
	if err := tokenInQueryOfWrite(r); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(q))
	for _, name := range names {
		vals := q[name]
		switch {
		case name != "access_token" && !slices.Contains(allowed, name):
			// A GET or HEAD takes access_token too: the detail said it
			// took none, or only the listed ones.
			token := r.Method == http.MethodGet || r.Method == http.MethodHead
			if len(allowed) == 0 && token {
				return nil, badRequest("unknown query parameter %q: %s %s takes no query parameters but access_token", name, r.Method, r.URL.Path)
			}
			if len(allowed) == 0 {
				return nil, badRequest("unknown query parameter %q: %s %s takes no query parameters", name, r.Method, r.URL.Path)
			}
			listed, what := allowed, ""
			if isSubscription(r) {
				// A subscription refuses a page's limit and direction.
				listed = slices.DeleteFunc(slices.Clone(allowed), func(p string) bool { return p == "limit" || p == "direction" })
				what = " as a subscription"
			}
			if token {
				listed = append(slices.Clip(listed), "access_token")
			}
			return nil, badRequest("unknown query parameter %q: %s %s%s takes only %s", name, r.Method, r.URL.Path, what, strings.Join(listed, ", "))
		case len(vals) > 1 && isFilter(name):
			return nil, badRequest("query parameter %s is given %d times; give it once (a filter takes a comma-separated list: %s=A,B)", name, len(vals), name)
		case len(vals) > 1:
			return nil, badRequest("query parameter %s is given %d times; give it once", name, len(vals))
		case vals[0] == "":
			return nil, badRequest("query parameter %s is empty; give it a value or leave it out", name)
		}
	}
	return q, nil
}

// intParam parses an optional integer query parameter in [min, max].
func intParam(q url.Values, name string, def, min, max int64) (int64, error) {
	raw := q.Get(name)
	if raw == "" {
		return def, nil
	}
	n, refused := parseNumber(raw)
	if refused == leadingZero {
		return 0, badRequest("query parameter %s must be written without leading zeros, as this server writes numbers, got %q", name, raw)
	}
	if refused == outOfRange || (refused == 0 && n > max) {
		// A whole number, only too large: say so, with the most taken.
		return 0, badRequest("query parameter %s is out of range: it must be at most %d, got %q", name, max, raw)
	}
	if refused != 0 || n < min {
		if max == 1<<63-1 {
			return 0, badRequest("query parameter %s must be a whole number ≥ %d, got %q", name, min, raw)
		}
		return 0, badRequest("query parameter %s must be a whole number from %d to %d, got %q", name, min, max, raw)
	}
	return n, nil
}

// limitParam parses ?limit=: 1 to eventstore.MaxLimit, default DefaultLimit.
func limitParam(q url.Values) (int, error) {
	n, err := intParam(q, "limit", eventstore.DefaultLimit, 1, eventstore.MaxLimit)
	return int(n), err
}

// Filters are capped: each name is a bind parameter of the query, and a
// store has a limit on those (SQLite's is a few thousand).
const (
	// MaxFilterNames is the most names one filter parameter may hold.
	MaxFilterNames = 100
	// MaxFilterLength is the most characters one filter parameter may
	// hold: room for MaxFilterNames names of the longest, with ", "
	// between them, which the contract takes; it bounds only padding.
	MaxFilterLength = MaxFilterNames * (eventstore.MaxNameLength + 2)
)

// isFilter reports whether the query parameter name is a filter, the only
// kind that takes a comma-separated list (namesParam).
func isFilter(name string) bool { return name == "stream_type" || name == "type" }

// namesParam parses a comma-separated list of names, e.g. ?type=A,B.
func namesParam(q url.Values, name string) ([]string, error) {
	raw := q.Get(name)
	if raw == "" {
		return nil, nil
	}
	names := strings.Split(raw, ",")
	if len(names) > MaxFilterNames {
		return nil, badRequest("query parameter %s holds %d names; a filter holds at most %d", name, len(names), MaxFilterNames)
	}
	if len(raw) > MaxFilterLength {
		return nil, badRequest("query parameter %s is %d characters long; a filter holds at most %d", name, len(raw), MaxFilterLength)
	}
	for i, n := range names {
		n = strings.TrimSpace(n)
		if err := eventstore.ValidateName(name, n); err != nil {
			return nil, badRequest("query parameter %s must be a comma-separated list of names: %v", name, err)
		}
		names[i] = n
	}
	return names, nil
}

// appendMediaType is the one media type an append's body may have (API.md).
const appendMediaType = "application/json"

// requireJSON answers 415 unless the body is declared as application/json,
// the contract's one media type: a type ending in +json (problem+json, a
// vendor's) names a format of its own, which this server does not know. The
// 415 says, in Accept-Post and Accept (RFC 9110 §15.5.16), what it takes.
func requireJSON(w http.ResponseWriter, r *http.Request) error {
	if n := len(r.Header.Values("Content-Type")); n > 1 {
		return badRequest("send one Content-Type header, not %d", n)
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	var refused error
	if cs, ok := params["charset"]; ok && !utf8Labels[strings.ToLower(strings.TrimSpace(cs))] {
		refused = problemf(errUnsupportedMedia, "the body must be UTF-8, got charset %q", cs)
	}
	if ct == "" || err != nil || mt != appendMediaType {
		refused = problemf(errUnsupportedMedia, "the body must be JSON: send Content-Type: "+appendMediaType+" (got %q); "+
			"no other media type, +json ones included, is taken", ct)
	}
	if refused == nil {
		return nil
	}
	w.Header().Set("Accept-Post", appendMediaType)
	w.Header().Set("Accept", appendMediaType)
	return refused
}

// utf8Labels are the names of UTF-8 in a charset parameter, lower-cased:
// the labels the WHATWG Encoding standard lists for it, as browsers take
// them (utf8 is also MySQL's spelling).
var utf8Labels = map[string]bool{"utf-8": true, "utf8": true, "unicode-1-1-utf-8": true,
	"unicode11utf8": true, "unicode20utf8": true, "x-unicode20utf8": true}

// acceptQ returns the weight of a media range of Accept, from its
// parameters: its q, or 1 without one. A q that is not a qvalue (RFC 9110
// §12.4.2: 0 or 1, or either with up to three decimals, 1's all zero) is
// not ok: the range is then ignored, rather than taken as 1, which would
// make text/event-stream;q=abc a subscription that never ends.
func acceptQ(params map[string]string) (float64, bool) {
	v, ok := params["q"] // mime lower-cases the name
	if !ok {
		return 1, true
	}
	whole, frac, dot := strings.Cut(v, ".")
	if (whole != "0" && whole != "1") || len(frac) > 3 || (dot && !isDigits(frac) && frac != "") ||
		(whole == "1" && strings.Trim(frac, "0") != "") {
		return 0, false
	}
	q, err := strconv.ParseFloat(v, 64)
	return q, err == nil
}

// expectedVersion reads an append's condition from If-Match / If-None-Match.
// If-Unmodified-Since without If-Match (which RFC 9110 §13.1.4 has decide
// when both are sent) is refused, whatever its value: a client that guards
// its write with a date would have it written whatever the stream had
// become. RFC 9110 §13.1.4 has a recipient ignore one that is no HTTP-date,
// and one where the resource has no modification date, as a stream has
// none; ignored, a date written wrong (ISO 8601, a list) lost its guard
// without a word. A POST's If-Modified-Since and If-Range are ignored, as
// RFC 9110 asks.
func expectedVersion(h http.Header) (eventstore.ExpectedVersion, error) {
	ifMatch, ifNoneMatch := h.Values("If-Match"), h.Values("If-None-Match")
	switch {
	case len(ifMatch) == 0 && len(h.Values("If-Unmodified-Since")) > 0:
		return eventstore.Any, badRequest(`If-Unmodified-Since is not taken on an append, a date or not: send the stream's version as If-Match: "N" (its ETag)`)
	case len(ifMatch) > 0 && len(ifNoneMatch) > 0:
		return eventstore.Any, badRequest("send If-Match or If-None-Match, not both")
	case len(ifMatch) > 1 || len(ifNoneMatch) > 1:
		return eventstore.Any, badRequest("send one expected version, not a list of entity tags")
	case len(ifNoneMatch) == 1:
		if trimHTTPSpace(ifNoneMatch[0]) != "*" {
			return eventstore.Any, badRequest(`If-None-Match on an append must be * (the stream must not exist), got %q`, ifNoneMatch[0])
		}
		return eventstore.NoStream, nil
	case len(ifMatch) == 1:
		v := trimHTTPSpace(ifMatch[0])
		if v == "*" {
			return eventstore.StreamExists, nil
		}
		n, err := parseVersionTag(v)
		if err != nil {
			return eventstore.Any, badRequest(`If-Match must be * or one strong entity tag holding a version, like "3"; got %q: %s`, ifMatch[0], err)
		}
		return eventstore.Exactly(n), nil
	}
	return eventstore.Any, nil
}

// trimHTTPSpace trims HTTP's optional whitespace, which is spaces and tabs only
// (RFC 9110, 5.6.3); other Unicode spaces are part of the value.
func trimHTTPSpace(s string) string { return strings.Trim(s, " \t") }

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// leadingZeros reports whether the digits s begin with a zero that is not
// all of them. Versions and positions are written one way, as the server
// writes them: 007 would be a second spelling of 7 (and, in an entity tag,
// which compares as a string, one that never matches), so it is refused
// wherever a number is taken.
func leadingZeros(s string) bool { return len(s) > 1 && s[0] == '0' }

// numberRefusal is why parseNumber refused a number; 0 if it did not.
type numberRefusal int

const (
	notDigits   numberRefusal = iota + 1 // empty, or not ASCII digits alone (a sign, a space, a dot)
	leadingZero                          // digits that begin with a zero that is not all of them (leadingZeros)
	outOfRange                           // digits past an int64
)

// parseNumber parses a number ≥ 0 that a client wrote, as this server
// writes one: decimal digits alone, without leading zeros. It returns the
// number and 0, or 0 and why it is refused, which each caller words for
// where the number was given. Digits with a leading zero are that refusal
// whether or not they fit an int64.
func parseNumber(s string) (int64, numberRefusal) {
	switch {
	case !isDigits(s):
		return 0, notDigits
	case leadingZeros(s):
		return 0, leadingZero
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, outOfRange
	}
	return n, 0
}

// parseVersionTag parses a strong entity tag holding a version: "3".
func parseVersionTag(v string) (int64, error) {
	switch {
	case strings.HasPrefix(v, "W/"):
		return 0, errString("weak tags are not allowed")
	case strings.Contains(v, ","):
		return 0, errString("lists of tags are not allowed")
	case v == `""`:
		return 0, errString("the tag is empty; give the version in it, as in the ETag")
	case len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"':
		return 0, errString("the tag must be in double quotes")
	}
	n, refused := parseNumber(v[1 : len(v)-1])
	switch refused {
	case notDigits:
		return 0, errString("the version must be a whole number ≥ 0")
	case leadingZero:
		// Entity tags compare as strings: "007" never equals the "7" we send.
		return 0, errString("the version must be written without leading zeros, as in the ETag")
	case outOfRange:
		return 0, errString("the version is out of range")
	}
	return n, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// ifMatch checks a read's If-Match against the current entity tag of what
// it reads (RFC 9110 §13.1.1, evaluated before If-None-Match): * (the
// whole value: isStar) or the tag itself, alone or in a list, holds; any other tag, a weak one included
// (the comparison is strong), is a 412.
func ifMatch(r *http.Request, current string) error {
	if tagMatches(r, current) {
		return nil
	}
	return problemf(errPrecondition, "If-Match %s does not hold: the stream's entity tag is %s now (its version; a weak tag never matches)",
		strings.Join(r.Header.Values("If-Match"), ", "), current)
}

// tagMatches reports whether r's If-Match holds for the current entity
// tag: it is not sent, or is * (isStar), or holds the tag itself, alone or
// in a list (the comparison is strong: a weak tag never matches).
func tagMatches(r *http.Request, current string) bool {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 || isStar(vals) {
		return true
	}
	for tag := range entityTags(vals) {
		if tag == current {
			return true
		}
	}
	return false
}

// noTagMatches checks the If-Match of a read whose answer has no entity
// tag (what: a page of the log, a subscription of it, one event): only *
// (isStar) holds (RFC 9110 §13.1.1: a tag in the list must match the answer's,
// and there is none), anything else is a 412. It ran as if not sent.
// Call it where the answer would otherwise be a 2xx (§13.2.1).
func noTagMatches(r *http.Request, what string) error {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 || isStar(vals) {
		return nil
	}
	// It said only a stream and its pages had one: the page at / has one
	// too. Every read that answers an ETag is named.
	return problemf(errPrecondition, "If-Match %s cannot hold: %s has no entity tag; leave it out, or send it where there is one: "+
		"GET /streams/{id} or a page of GET /streams/{id}/events (the version of the stream), or GET / (the stream browser's own)",
		strings.Join(vals, ", "), what)
}

// noneMatchesAny reports whether If-None-Match is * (isStar) on a read
// whose answer has no entity tag (one event, a page of
// the log or of streams): * no longer holds where there is a current
// representation (RFC 9110 13.1.2), so a GET or HEAD of one is a 304, as
// a stream's read answers it (notModified); a tag never matches it. Call
// it where the answer would otherwise be a 2xx (13.2.1).
func noneMatchesAny(r *http.Request) bool {
	return isStar(r.Header.Values("If-None-Match"))
}

// notModified reports whether If-None-Match holds the current entity tag
// (RFC 9110 weak comparison; * matches any existing stream). * is never
// weak: W/* matches nothing, as on the reads without a tag
// (noneMatchesAny), where it was a 304 here and a 200 there.
func notModified(r *http.Request, current string) bool {
	vals := r.Header.Values("If-None-Match")
	if isStar(vals) {
		return true
	}
	for tag := range entityTags(vals) {
		if strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}

// isStar reports whether vals, the values of If-Match or If-None-Match,
// are * (RFC 9110: "*" / #entity-tag): one value, * alone. A * in a list
// ("2", *), or one of two header lines, is no *: the list is malformed,
// and its * a member that matches no tag. Taken for *, it held every
// If-Match and answered every If-None-Match 304. (An append refuses
// such a list: expectedVersion.)
func isStar(vals []string) bool {
	return len(vals) == 1 && trimHTTPSpace(vals[0]) == "*"
}

// entityTags yields the members of the entity-tag lists vals (the values
// of If-Match or If-None-Match), each trimmed of optional whitespace. A
// comma between a tag's quotes is part of the tag ("a,*,b" is one opaque
// tag, RFC 9110 §8.8.3): split at every comma, it was read as a list
// holding *, which held every If-Match and answered every If-None-Match
// 304. An empty value yields one empty member, which matches nothing.
func entityTags(vals []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range vals {
			quoted, start := false, 0
			for i := 0; i < len(v); i++ {
				switch {
				case v[i] == '"':
					quoted = !quoted
				case v[i] == ',' && !quoted:
					if !yield(trimHTTPSpace(v[start:i])) {
						return
					}
					start = i + 1
				}
			}
			if !yield(trimHTTPSpace(v[start:])) {
				return
			}
		}
	}
}
