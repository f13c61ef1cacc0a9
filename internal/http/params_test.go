package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

func TestExpectedVersionFromHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ifMatch, ifNoneMatch []string
		want                 eventstore.ExpectedVersion
		bad                  bool
	}{
		{want: eventstore.Any},
		{ifMatch: []string{`"0"`}, want: eventstore.NoStream},
		{ifMatch: []string{`"7"`}, want: eventstore.Exactly(7)},
		{ifMatch: []string{` "7" `}, want: eventstore.Exactly(7)},
		{ifMatch: []string{`*`}, want: eventstore.StreamExists},
		{ifNoneMatch: []string{`*`}, want: eventstore.NoStream},
		{ifMatch: []string{`W/"7"`}, bad: true},
		{ifMatch: []string{`"1", "2"`}, bad: true},
		{ifMatch: []string{`"1"`, `"2"`}, bad: true},
		{ifMatch: []string{`7`}, bad: true},
		{ifMatch: []string{`"x"`}, bad: true},
		{ifMatch: []string{`"-1"`}, bad: true},
		{ifMatch: []string{`"+1"`}, bad: true},
		{ifMatch: []string{`""`}, bad: true},
		{ifMatch: []string{`"99999999999999999999"`}, bad: true},
		{ifMatch: []string{"\"1\x00\""}, bad: true},
		{ifNoneMatch: []string{`"3"`}, bad: true},
		{ifMatch: []string{`"1"`}, ifNoneMatch: []string{`*`}, bad: true},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("If-Match=%q/If-None-Match=%q", tc.ifMatch, tc.ifNoneMatch)
		h := http.Header{}
		for _, v := range tc.ifMatch {
			h.Add("If-Match", v)
		}
		for _, v := range tc.ifNoneMatch {
			h.Add("If-None-Match", v)
		}
		got, err := expectedVersion(h)
		if tc.bad {
			if !errors.Is(err, errBadRequest) {
				t.Errorf("%s: err = %v, want a bad request", name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %s, %v; want %s", name, got, err, tc.want)
		}
	}
}

func TestNotModifiedMatchesCurrentTag(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{`"3"`: true, `W/"3"`: true, `"1", "3"`: true, `*`: true, `"4"`: false, `3`: false, ``: false}
	for header, want := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("If-None-Match", header)
		}
		if got := notModified(r, `"3"`); got != want {
			t.Errorf("If-None-Match %q against \"3\": not modified = %v, want %v", header, got, want)
		}
	}
}

// TestErrorTable proves the mapping of every error to its status and problem
// type, and that unknown errors do not leak their text.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	cases := []struct {
		err    error
		status int
		slug   string
	}{
		{fmt.Errorf("append: %w", eventstore.Invalid("events[0].type", "must not be empty")), 400, "bad-request"},
		{eventstore.ErrStreamTypeRequired, 400, "bad-request"},
		{badRequest("x"), 400, "bad-request"},
		{fmt.Errorf("stream %s: %w", id, eventstore.ErrStreamNotFound), 404, "not-found"},
		{eventstore.ErrEventNotFound, 404, "not-found"},
		{fmt.Errorf("append: %w", &eventstore.WrongExpectedVersionError{StreamID: id, Expected: eventstore.Exactly(2), Current: 5}), 409, "wrong-expected-version"},
		{&eventstore.DuplicateEventError{EventID: id}, 409, "duplicate-event-id"},
		{fmt.Errorf("append: %w", &eventstore.IdempotencyKeyReusedError{EventID: id, Field: "data"}), 409, "idempotency-key-reused"},
		{&eventstore.StreamTypeMismatchError{StreamID: id, Stored: "a", Given: "b"}, 409, "stream-type-mismatch"},
		{&aheadError{requested: 5, current: 0, detail: "ahead"}, 409, "starting-point-ahead"},
		{&detailError{kind: errTooLarge, detail: "big"}, 413, "too-large"},
		{fmt.Errorf("append: %w: 40 MB against a 16 MB packet", eventstore.ErrTooLarge), 413, "too-large"},
		{&detailError{kind: errUnsupportedMedia, detail: "xml"}, 415, "unsupported-media-type"},
		{fmt.Errorf("ping: %w: dial refused", eventstore.ErrUnavailable), 503, "unavailable"},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "unavailable"},
		{errors.New("secret internal detail"), 500, "internal"},
	}
	s := New(nil, Options{Logger: slog.New(slog.DiscardHandler)})
	for _, tc := range cases {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/streams/x/events", nil), tc.err)
		body := w.Body.String()
		if w.Code != tc.status || !strings.Contains(body, `"type":"`+ProblemBase+tc.slug+`"`) {
			t.Errorf("%v → %d %s; want %d %s", tc.err, w.Code, body, tc.status, tc.slug)
		}
		if strings.Contains(body, "secret") {
			t.Errorf("500 body leaks the error: %s", body)
		}
		if tc.status == 409 && tc.slug == "wrong-expected-version" &&
			(!strings.Contains(body, `"expected_version":2`) || !strings.Contains(body, `"current_version":5`) || w.Header().Get("ETag") != `"5"`) {
			t.Errorf("wrong expected version problem = %s ETag %q; want expected 2, current 5, ETag \"5\"", body, w.Header().Get("ETag"))
		}
		if tc.status == 503 && w.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("POST", "/", nil), &eventstore.WrongExpectedVersionError{Expected: eventstore.StreamExists})
	if !strings.Contains(w.Body.String(), `"expected_version":"*"`) {
		t.Errorf("If-Match: * failure body = %s, want expected_version \"*\"", w.Body.String())
	}
}

// TestARepeatedQueryParameterSuggestsACommaListOnlyForAFilter: the 400 for a
// parameter given twice says what to fix. Only a filter (stream_type, type)
// takes a comma-separated list; the detail told a client who sent
// ?limit=1&limit=2 to write limit=A,B, itself a 400.
func TestARepeatedQueryParameterSuggestsACommaListOnlyForAFilter(t *testing.T) {
	t.Parallel()
	allowed := []string{"after", "from", "limit", "direction", "stream_type", "type"}
	for _, tc := range []struct {
		name   string
		filter bool
	}{
		{"stream_type", true}, {"type", true},
		{"after", false}, {"from", false}, {"limit", false}, {"direction", false}, {"access_token", false},
	} {
		r := httptest.NewRequest("GET", "/events?"+tc.name+"=a&"+tc.name+"=b", nil)
		_, err := query(r, allowed...)
		if err == nil {
			t.Fatalf("?%s given twice: no error; want a 400", tc.name)
		}
		detail := err.Error()
		if !strings.Contains(detail, tc.name+" is given 2 times") {
			t.Errorf("?%s given twice: detail %q does not name it", tc.name, detail)
		}
		if hint := tc.name + "=A,B"; strings.Contains(detail, hint) != tc.filter {
			t.Errorf("?%s given twice: detail %q; want the comma-list hint %q only for a filter (filter: %v)", tc.name, detail, hint, tc.filter)
		}
	}
}

// TestParseNumberTakesANumberOnlyAsTheServerWritesIt: the one parse behind
// every number a client writes (query parameters, a path's version, an
// entity tag, Tributary-Min-Position) tells each refusal apart, so that
// each place words its own; leading zeros are that refusal even past an
// int64.
func TestParseNumberTakesANumberOnlyAsTheServerWritesIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		why  numberRefusal
	}{
		{"0", 0, 0},
		{"7", 7, 0},
		{"9223372036854775807", 1<<63 - 1, 0},
		{"", 0, notDigits},
		{"-1", 0, notDigits},
		{"+1", 0, notDigits},
		{" 1", 0, notDigits},
		{"1.0", 0, notDigits},
		{"１", 0, notDigits},
		{"00", 0, leadingZero},
		{"007", 0, leadingZero},
		{"099999999999999999999", 0, leadingZero},
		{"9223372036854775808", 0, outOfRange},
	} {
		if n, why := parseNumber(tc.in); n != tc.want || why != tc.why {
			t.Errorf("parseNumber(%q) = %d, %d; want %d, %d", tc.in, n, why, tc.want, tc.why)
		}
	}
}
