package eventstore

import "strconv"

// ExpectedVersion is the condition an append places on its stream's version.
// The zero value is Any.
type ExpectedVersion struct {
	kind expectKind
	n    int64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExists
	expectExact
)

var (
	// Any appends whatever the stream's version.
	Any = ExpectedVersion{kind: expectAny}
	// NoStream requires that the stream does not exist yet.
	NoStream = ExpectedVersion{kind: expectNoStream}
	// StreamExists requires that the stream exists.
	StreamExists = ExpectedVersion{kind: expectExists}
)

// Exactly requires the stream to be at version n. Exactly(0) is NoStream.
func Exactly(n int64) ExpectedVersion {
	if n == 0 {
		return NoStream
	}
	return ExpectedVersion{kind: expectExact, n: n}
}

// Allows reports whether a stream at version current satisfies e.
func (e ExpectedVersion) Allows(current int64) bool {
	switch e.kind {
	case expectNoStream:
		return current == 0
	case expectExists:
		return current > 0
	case expectExact:
		return current == e.n
	default:
		return true
	}
}

// IsAny reports whether e places no condition.
func (e ExpectedVersion) IsAny() bool { return e.kind == expectAny }

// IsStreamExists reports whether e only requires that the stream exists.
func (e ExpectedVersion) IsStreamExists() bool { return e.kind == expectExists }

// Number returns the exact version e requires (0 for NoStream), and false for
// Any and StreamExists, which name no number.
func (e ExpectedVersion) Number() (int64, bool) {
	switch e.kind {
	case expectNoStream:
		return 0, true
	case expectExact:
		return e.n, true
	}
	return 0, false
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectExists:
		return "stream exists"
	case expectExact:
		return strconv.FormatInt(e.n, 10)
	default:
		return "any"
	}
}
