package sseline_test

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tributary-dev/tributary/internal/sseline"
)

// TestReaderEndsEachLineAtItsFirstCROrLF reads random lines, each
// ended by CR LF, LF or CR, some longer than the buffer, whole and in
// pieces, and expects each line back as it was written: the first CR or
// LF ends a line, and an LF right after a CR is part of that end, even
// when it comes in a later read. The bytes ReadLine says it took add up
// to the stream's: a CR LF end counted one, so that a frame of CR LF
// lines was undercounted by a byte a line against its bound.
func TestReaderEndsEachLineAtItsFirstCROrLF(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var in strings.Builder
		var want []string
		for range rng.IntN(40) {
			line := strings.Repeat("x", rng.IntN(3)*rng.IntN(40))
			end := []string{"\r\n", "\n", "\r"}[rng.IntN(3)]
			if line == "" && end == "\n" && strings.HasSuffix(in.String(), "\r") {
				end = "\r" // after a CR, this LF would end the line before
			}
			want = append(want, line)
			in.WriteString(line + end)
		}
		for how, r := range map[string]func() io.Reader{
			"whole":          func() io.Reader { return strings.NewReader(in.String()) },
			"a byte at once": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in.String())) },
			"in halves":      func() io.Reader { return iotest.HalfReader(strings.NewReader(in.String())) },
		} {
			lr := sseline.NewReader(r(), 16) // bufio's smallest buffer
			var got []string
			taken := 0
			for {
				line, n, err := lr.ReadLine(math.MaxInt)
				taken += n
				if err != nil {
					if !errors.Is(err, io.EOF) || line != "" {
						t.Fatalf("round %d, %s: %q: lines %q, then %q and %v; expected the end of the stream", round, how, in.String(), got, line, err)
					}
					break
				}
				got = append(got, line)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, %s: %q: lines\n%q\nexpected\n%q", round, how, in.String(), got, want)
			}
			if taken != in.Len() {
				t.Fatalf("round %d, %s: %q: ReadLine said it took %d bytes; expected the stream's %d", round, how, in.String(), taken, in.Len())
			}
		}
	}
}

// TestReaderDropsOneLeadingByteOrderMarkAndBoundsALine: only the stream's
// first mark is dropped; a line past the bound is ErrTooLong; an
// unfinished line comes back with the end of the stream.
func TestReaderDropsOneLeadingByteOrderMarkAndBoundsALine(t *testing.T) {
	t.Parallel()
	const bom = "\uFEFF"
	lr := sseline.NewReader(iotest.OneByteReader(strings.NewReader(bom+bom+"a\r\n"+bom+"b\n")), 0)
	for _, want := range []string{bom + "a", bom + "b"} {
		if line, _, err := lr.ReadLine(math.MaxInt); line != want || err != nil {
			t.Fatalf("got %q and %v; expected %q", line, err, want)
		}
	}
	if _, _, err := sseline.NewReader(strings.NewReader("abcdef\n"), 0).ReadLine(6); !errors.Is(err, sseline.ErrTooLong) {
		t.Errorf("a line of 7 bytes with its end, bound 6: got %v; expected ErrTooLong", err)
	}
	if line, n, err := sseline.NewReader(strings.NewReader("abcde\n"), 0).ReadLine(6); line != "abcde" || n != 6 || err != nil {
		t.Errorf("a line of 6 bytes with its end, bound 6: got %q, %d, %v; expected %q, 6, nil", line, n, err, "abcde")
	}
	if line, _, err := sseline.NewReader(strings.NewReader("abc"), 0).ReadLine(6); line != "abc" || !errors.Is(err, io.EOF) {
		t.Errorf("an unfinished line: got %q and %v; expected %q and io.EOF", line, err, "abc")
	}
}

// TestTakeLFSettlesACRAtTheEndOfARead: after a line that ended in a CR
// that was the last byte read, TakeLF waits for the next byte and takes it
// only if it is that CR's LF, counting it; otherwise it takes nothing, and
// the next line is read whole, its count without the LF.
func TestTakeLFSettlesACRAtTheEndOfARead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		lf       int
		next     string
		nextSize int
	}{
		{"a\r\nb\n", 1, "b", 2},
		{"a\rb\n", 0, "b", 2},
		{"a\r\r\n", 0, "", 1},  // its own LF still to come
		{"a\n\nb\n", 0, "", 1}, // no CR pending: nothing taken
	} {
		lr := sseline.NewReader(iotest.OneByteReader(strings.NewReader(tc.in)), 0)
		if line, _, err := lr.ReadLine(math.MaxInt); line != "a" || err != nil {
			t.Fatalf("%q: got %q and %v; expected %q", tc.in, line, err, "a")
		}
		if lf, err := lr.TakeLF(); lf != tc.lf || err != nil {
			t.Errorf("%q: TakeLF took %d and %v; expected %d", tc.in, lf, err, tc.lf)
		}
		if line, n, err := lr.ReadLine(math.MaxInt); line != tc.next || n != tc.nextSize || err != nil {
			t.Errorf("%q: then %q, %d bytes, %v; expected %q, %d bytes", tc.in, line, n, err, tc.next, tc.nextSize)
		}
	}
	lr := sseline.NewReader(strings.NewReader("a\r"), 0)
	lr.ReadLine(math.MaxInt) //nolint:errcheck // read above
	if lf, err := lr.TakeLF(); lf != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("a CR at the end of the stream: TakeLF took %d and %v; expected 0 and io.EOF", lf, err)
	}
}

// TestSkimLineEndsLinesAsReadLineDoes: the load tool reads a line's
// name and a short value only, through SkimLine; it splits the same
// random lines as ReadLine, whole and in pieces, a leading byte-order mark
// dropped, and gives each line's first bytes and whole length.
func TestSkimLineEndsLinesAsReadLineDoes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const keep = 8
	for round := range 200 {
		in := "\uFEFF"
		var want []string
		for range rng.IntN(40) {
			line := strings.Repeat("x", rng.IntN(3)*rng.IntN(40)) + strings.Repeat("y", rng.IntN(2))
			end := []string{"\r\n", "\n", "\r"}[rng.IntN(3)]
			if line == "" && end == "\n" && strings.HasSuffix(in, "\r") {
				end = "\r"
			}
			want = append(want, line)
			in += line + end
		}
		for how, r := range map[string]func() io.Reader{
			"whole":          func() io.Reader { return strings.NewReader(in) },
			"a byte at once": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
			"in halves":      func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
		} {
			lr := sseline.NewReader(r(), 16)
			for i := 0; ; i++ {
				kept, n, err := lr.SkimLine(keep)
				if err != nil {
					if !errors.Is(err, io.EOF) || len(kept) != 0 || i != len(want) {
						t.Fatalf("round %d, %s: %q: line %d: %q and %v; expected the end of the stream after %d lines", round, how, in, i, kept, err, len(want))
					}
					break
				}
				if i >= len(want) || string(kept) != want[i][:min(keep, len(want[i]))] || n != len(want[i]) {
					t.Fatalf("round %d, %s: %q: line %d: kept %q of %d bytes; expected the first %d bytes of %q", round, how, in, i, kept, n, keep, want)
				}
			}
		}
	}
}
