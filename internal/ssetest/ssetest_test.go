package ssetest_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/ssetest"
)

// TestParserFollowsTheWHATWGRules holds the tests' own client to the
// parsing rules of the HTML standard, so that what the tests report of the
// server is what a browser would see.
func TestParserFollowsTheWHATWGRules(t *testing.T) {
	t.Parallel()
	frame := func(f ssetest.Frame) string { return f.String() + " last=" + f.LastEventID }
	for _, tc := range []struct {
		name, input string
		want        []ssetest.Frame
		partial     bool   // the input ends inside a frame
		resumed     string // the last event ID sent when connecting
	}{
		{"frames", "retry: 2000\n\nid: 1\ndata: {}\n\n: keep-alive\n\n",
			[]ssetest.Frame{{Retry: "2000"}, {ID: "1", HasID: true, Data: "{}", HasData: true, LastEventID: "1"},
				{Comments: []string{"keep-alive"}, LastEventID: "1"}}, false, ""},
		{"CRLF, CR and a byte order mark", "\ufeffdata: a\r\ndata: b\r\r\rid: 7\revent: e\r\n\r\n",
			[]ssetest.Frame{{Data: "a\nb", HasData: true}, {ID: "7", HasID: true, Event: "e", LastEventID: "7"}}, false, ""},
		{"one space after the colon is dropped", "data:x\ndata:  y\ndata\n\n",
			[]ssetest.Frame{{Data: "x\n y\n", HasData: true}}, false, ""},
		{"an id-only frame moves the last event ID", "id: 5\n\ndata: z\n\n",
			[]ssetest.Frame{{ID: "5", HasID: true, LastEventID: "5"}, {Data: "z", HasData: true, LastEventID: "5"}}, false, ""},
		{"an id holding NUL and a bad retry are ignored", "id: 1\n\nid: 2\x003\nretry: 1.5\ndata: n\n\n",
			[]ssetest.Frame{{ID: "1", HasID: true, LastEventID: "1"}, {Data: "n", HasData: true, LastEventID: "1"}}, false, ""},
		{"an empty id resets", "id: 1\n\nid\n\n",
			[]ssetest.Frame{{ID: "1", HasID: true, LastEventID: "1"}, {HasID: true}}, false, ""},
		{"other fields are reported", "foo: bar\n\n", []ssetest.Frame{{Unknown: []string{"foo: bar"}}}, false, ""},
		{"an unfinished frame is dropped", "data: a\n\ndata: b\n", []ssetest.Frame{{Data: "a", HasData: true}}, true, ""},
		{"an unfinished line is dropped", "data: a\n\ndata: b", []ssetest.Frame{{Data: "a", HasData: true}}, true, ""},
		{"a reconnection keeps the last event ID", "retry: 2000\n\nid: 8\n\n",
			[]ssetest.Frame{{Retry: "2000", LastEventID: "7"}, {ID: "8", HasID: true, LastEventID: "8"}}, false, "7"},
	} {
		p := ssetest.NewParser(strings.NewReader(tc.input), tc.resumed)
		var got []string
		for {
			f, partial, err := p.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) || partial != tc.partial {
					t.Errorf("%s: expected io.EOF with partial %t at the end, got %v with partial %t", tc.name, tc.partial, err, partial)
				}
				break
			}
			got = append(got, frame(f))
		}
		var want []string
		for _, f := range tc.want {
			want = append(want, frame(f))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: parsing %q: expected frames\n%q\ngot\n%q", tc.name, tc.input, want, got)
		}
	}
}
