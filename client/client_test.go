package client

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The client's behaviour against a real server is tested in tests/
// (client_test.go), on both stores; these are its pure parts.

func TestReadFrameFollowsTheEventStreamFormat(t *testing.T) {
	t.Parallel()
	in := "retry: 2000\n\n" +
		": keep-alive\n\n" +
		"id: 3\r\ndata: {\"a\":1}\r\n\r\n" +
		"event: caught-up\ndata: 3\n\n" +
		"id: 9\n\n" +
		"data: one\ndata:two\n\n" +
		"id: 10\ndata: cut sh"
	want := []frame{
		{retry: 2 * time.Second},
		{},
		{id: "3", hasID: true, data: `{"a":1}`, hasData: true},
		{event: "caught-up", data: "3", hasData: true},
		{id: "9", hasID: true},
		{data: "one\ntwo", hasData: true},
	}
	r := bufio.NewReader(strings.NewReader(in))
	for i, w := range want {
		got, err := readFrame(r)
		if err != nil || got != w {
			t.Fatalf("frame %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := readFrame(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a frame cut short: %v; want io.ErrUnexpectedEOF (it is dropped)", err)
	}
}

func TestNextLinkFindsRelNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ link, want string }{
		{`</events?after=5&limit=2>; rel="next"`, "/events?after=5&limit=2"},
		{`</a>; rel="prev", </b>; rel=next`, "/b"},
		{`</a>; rel="prev"`, ""},
		{``, ""},
	} {
		h := http.Header{}
		if tc.link != "" {
			h.Set("Link", tc.link)
		}
		if got := nextLink(h); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.link, got, tc.want)
		}
	}
}

func TestProblemIsItsSentinel(t *testing.T) {
	t.Parallel()
	p := &Problem{Status: 409, Type: problemBase + "wrong-expected-version", CurrentVersion: 4}
	if !errors.Is(p, ErrWrongExpectedVersion) || errors.Is(p, ErrDuplicateEventID) {
		t.Errorf("a wrong-expected-version problem should be ErrWrongExpectedVersion and nothing else")
	}
	if (&Problem{Status: 500, Type: problemBase + "internal"}).Is(ErrUnavailable) {
		t.Errorf("an internal problem should match no sentinel")
	}
}
