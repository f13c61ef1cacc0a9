package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestANumberPastItsRangeIsCalledOutOfRange: a number of digits alone,
// without leading zeros, that is past what the server takes (an int64, or
// limit's 1000) is a whole number ≥ 0: the 400 says it is out of range and
// gives the most that is taken, as If-Match's does, wherever a number is
// given (an apiuser found "must be a whole number ≥ 0" for after=2^63).
func TestANumberPastItsRangeIsCalledOutOfRange(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
	const past = "9223372036854775808"
	const most = "at most 9223372036854775807"
	sse := []string{"Accept", "text/event-stream"}
	for _, tc := range []struct {
		name, path string
		header     []string
		want       string
	}{
		{"log after", "/events?after=" + past, nil, most},
		{"log limit", "/events?limit=" + past, nil, "at most 1000"},
		{"stream from", "/streams/" + id + "/events?from=" + past, nil, most},
		{"stream limit", "/streams/" + id + "/events?limit=99999999999999999999", nil, "at most 1000"},
		{"stream list limit", "/streams?limit=" + past, nil, "at most 1000"},
		{"path version", "/streams/" + id + "/events/" + past, nil, most},
		{"log subscription after", "/events?after=" + past, sse, most},
		{"stream subscription from", "/streams/" + id + "/events?from=" + past, sse, most},
		{"Last-Event-ID", "/streams/" + id + "/events", append(sse, "Last-Event-ID", past), most},
		{"Tributary-Min-Position", "/events", []string{"Tributary-Min-Position", past}, most},
	} {
		r := s.do("GET", tc.path, "", tc.header...)
		expectStatus(t, tc.name, r, 400)
		detail, _ := r.json(t)["detail"].(string)
		if !strings.Contains(detail, "out of range") || !strings.Contains(detail, tc.want) || strings.Contains(detail, "whole number") {
			t.Errorf("%s: detail %q; want it to say the number is out of range, %s, not that it is not a whole number", tc.name, detail, tc.want)
		}
	}
}
