package client

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadFrameReadsTheEventStreamGrammar: the WHATWG event-stream
// grammar (HTML §9.2.5) allows one leading UTF-8 byte-order mark and
// lines that end in CR alone, as well as LF and CR LF; readFrame took the
// mark for part of the first field's name (dropping that field, the retry:
// or the first event's id) and read a stream of CR-only lines as one line
// without end, delivering nothing. Each stream is read whole and also a
// byte at a time, so that a CR LF split between two reads is one end.
func TestReadFrameReadsTheEventStreamGrammar(t *testing.T) {
	t.Parallel()
	const bom = "\uFEFF"
	for _, tc := range []struct {
		name, in string
		want     []frame
	}{
		{"LF", "id: 1\ndata: a\n\n", []frame{{id: "1", hasID: true, data: "a", hasData: true}}},
		{"CR LF", "id: 1\r\ndata: a\r\n\r\n", []frame{{id: "1", hasID: true, data: "a", hasData: true}}},
		{"CR", "id: 1\rdata: a\r\r", []frame{{id: "1", hasID: true, data: "a", hasData: true}}},
		{"each end in one frame", "data: a\rdata: b\ndata: c\r\n\n", []frame{{data: "a\nb\nc", hasData: true}}},
		{"CR, then CR LF", "data: a\r\r\ndata: b\n\n", []frame{{data: "a", hasData: true}, {data: "b", hasData: true}}},
		{"CR frames one after another", "retry: 1000\r\r: keep-alive\r\revent: caught-up\rdata: 3\r\r",
			[]frame{{retry: time.Second}, {}, {event: "caught-up", data: "3", hasData: true}}},
		{"blank lines between frames", "\r\r\n\ndata: a\r\r\r\n\rdata: b\r\r", []frame{{data: "a", hasData: true}, {data: "b", hasData: true}}},
		{"a byte-order mark", bom + "retry: 2000\n\nid: 1\rdata: a\r\r", []frame{{retry: 2 * time.Second}, {id: "1", hasID: true, data: "a", hasData: true}}},
		{"a byte-order mark, then an id", bom + "id: 7\ndata: a\n\n", []frame{{id: "7", hasID: true, data: "a", hasData: true}}},
		{"a second byte-order mark is part of the name", bom + bom + "data: a\n\ndata: b\n\n", []frame{{}, {data: "b", hasData: true}}},
		{"a byte-order mark after the start", "data: a\n\n" + bom + "data: b\n\n", []frame{{data: "a", hasData: true}, {}}},
		{"a field without a colon", "data\r\r", []frame{{hasData: true}}},
		{"one space after the colon, no more", "data:a\rdata:  b\r\r", []frame{{data: "a\n b", hasData: true}}},
		{"a retry that is not digits", "retry: 1a\rretry: \r\r", []frame{{}}},
	} {
		for how, r := range map[string]func() io.Reader{
			"whole":          func() io.Reader { return strings.NewReader(tc.in) },
			"a byte at once": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tc.in)) },
		} {
			t.Run(tc.name+", "+how, func(t *testing.T) {
				t.Parallel()
				fr := newFrameReader(r())
				var got []frame
				for {
					f, err := readFrame(fr, 1<<20)
					if err != nil {
						if !errors.Is(err, io.EOF) {
							t.Fatalf("%q: frames %+v, then %v; expected the end of the stream", tc.in, got, err)
						}
						break
					}
					got = append(got, f)
				}
				if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
					t.Errorf("%q: frames\n%+v\nexpected\n%+v", tc.in, got, tc.want)
				}
			})
		}
	}
}

// BenchmarkReadFrame reads frames holding a 1 MiB event, and a stream of
// 1 KiB ones: what a large event pays per byte for finding its line ends
// and gathering a line longer than the buffer, and what each line of a
// usual event costs.
func BenchmarkReadFrame(b *testing.B) {
	for _, bc := range []struct {
		name   string
		size   int // of an event's data
		frames int
	}{{"1 MiB event", 1 << 20, 1}, {"1 KiB events", 1 << 10, 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			in := strings.Repeat("id: 1\nevent: e\ndata: {\"k\":\""+strings.Repeat("x", bc.size)+"\"}\n\n", bc.frames)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				fr := newFrameReader(strings.NewReader(in))
				for range bc.frames {
					f, err := readFrame(fr, 2<<20)
					if err != nil || len(f.data) != bc.size+8 {
						b.Fatalf("got a frame of %d bytes and %v; expected %d, and no error", len(f.data), err, bc.size+8)
					}
				}
			}
		})
	}
}
