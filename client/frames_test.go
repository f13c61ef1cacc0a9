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
// byte at a time, so that a CR LF split between two reads is one end, and
// each again with a frame cut short after it: the same frames, then
// io.ErrUnexpectedEOF, the cut frame dropped.
func TestReadFrameReadsTheEventStreamGrammar(t *testing.T) {
	t.Parallel()
	const bom = "\uFEFF"
	for _, tc := range []struct {
		name, in string
		want     []frame
	}{
		{"the frames Tributary sends", "retry: 2000\n\n: keep-alive\n\nid: 3\r\ndata: {\"a\":1}\r\n\r\nevent: caught-up\ndata: 3\n\nid: 9\n\ndata: one\ndata:two\n\n",
			[]frame{{retry: 2 * time.Second}, {}, {id: "3", hasID: true, data: `{"a":1}`, hasData: true}, {event: "caught-up", data: "3", hasData: true},
				{id: "9", hasID: true}, {data: "one\ntwo", hasData: true}}},
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
		{"a retry in CR LF lines", "retry: 1500\r\n\r\n", []frame{{retry: 1500 * time.Millisecond}}},
		{"a comment among the fields", "data: a\r: note\rdata: b\r\r", []frame{{data: "a\nb", hasData: true}}},
		{"an id holding NUL is ignored", "id: 1\x002\ndata: a\n\n", []frame{{data: "a", hasData: true}}},
		{"an id without a value is an empty id", "id\ndata: a\n\n", []frame{{hasID: true, data: "a", hasData: true}}},
		{"a name followed by a space is another field", "data : a\n\n", []frame{{}}},
		{"a data line of a colon only", "data:\n\n", []frame{{hasData: true}}},
	} {
		for how, r := range map[string]func(in string) io.Reader{
			"whole":          func(in string) io.Reader { return strings.NewReader(in) },
			"a byte at once": func(in string) io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		} {
			t.Run(tc.name+", "+how, func(t *testing.T) {
				t.Parallel()
				for in, end := range map[string]error{tc.in: io.EOF, tc.in + "id: 10\ndata: cut sh": io.ErrUnexpectedEOF} {
					fr := newFrameReader(r(in))
					var got []frame
					for {
						f, err := readFrame(fr, 1<<20)
						if err != nil {
							if !errors.Is(err, end) {
								t.Fatalf("%q: frames %+v, then %v; expected %v", in, got, err, end)
							}
							break
						}
						got = append(got, f)
					}
					if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
						t.Errorf("%q: frames\n%+v\nexpected\n%+v", in, got, tc.want)
					}
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

// TestReadFrameHoldsMaxFrameBytesExactlyAtEverySplit: the LF of a
// frame's closing CR LF that came in a later read than its CR was not
// counted against the frame, which was delivered at the CR, so a frame
// one byte over MaxFrameBytes passed, and that LF was counted against the
// next frame instead (as was that of a blank line between frames).
// Whatever its line ends, and wherever its bytes are split between two
// reads, or a byte at a time, a frame of exactly the bound is read, and so
// is the same frame after it, and a frame of a byte more is
// errFrameTooLong.
func TestReadFrameHoldsMaxFrameBytesExactlyAtEverySplit(t *testing.T) {
	t.Parallel()
	for ends, in := range map[string]string{
		"LF":    "id: 1\ndata: abc\n\n",
		"CR LF": "id: 1\r\ndata: abc\r\n\r\n",
		"CR":    "id: 1\rdata: abc\r\r",
		"mixed": "id: 1\rdata: abc\n\r\n",
	} {
		want := frame{id: "1", hasID: true, data: "abc", hasData: true}
		stream := "\r\n" + in + "\r\n" + in // blank lines are no frame's
		splits := map[string]func() io.Reader{
			"a byte at once": func() io.Reader { return iotest.OneByteReader(strings.NewReader(stream)) },
		}
		for k := range len(stream) + 1 {
			splits[fmt.Sprintf("split at %d", k)] = func() io.Reader {
				return io.MultiReader(strings.NewReader(stream[:k]), strings.NewReader(stream[k:]))
			}
		}
		for how, r := range splits {
			fr := newFrameReader(r())
			for i := range 2 {
				if f, err := readFrame(fr, len(in)); err != nil || f != want {
					t.Errorf("%s, %s: frame %d of %d bytes with a bound of %d: %+v, %v; expected %+v", ends, how, i, len(in), len(in), f, err, want)
				}
			}
			if f, err := readFrame(fr, len(in)); !errors.Is(err, io.EOF) {
				t.Errorf("%s, %s: after both frames, %+v, %v; expected the end of the stream", ends, how, f, err)
			}
			if f, err := readFrame(newFrameReader(r()), len(in)-1); !errors.Is(err, errFrameTooLong) {
				t.Errorf("%s, %s: a frame of %d bytes with a bound of %d: %+v, %v; expected errFrameTooLong", ends, how, len(in), len(in)-1, f, err)
			}
		}
	}
}
