package http

import (
	"fmt"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAppendsRefusedOrdersRefusalsByBeginAndWritesByAnswer: a refusal of
// an append begun before the latest outcome noted is older news; a write
// clears every refusal noted before its answer, whenever it began, and
// does not make a refusal begun before a later write news again.
func TestAppendsRefusedOrdersRefusalsByBeginAndWritesByAnswer(t *testing.T) {
	t.Parallel()
	full := fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)
	type outcome struct {
		ticket int // the order it began in, from 1
		err    error
	}
	for _, tc := range []struct {
		what    string
		answers []outcome // in the order they were answered
		refused bool
	}{
		{"a refusal, then a write begun after it", []outcome{{1, full}, {2, nil}}, false},
		{"a write, then a refusal begun after it", []outcome{{1, nil}, {2, full}}, true},
		{"a refusal begun before a write, answered after it", []outcome{{2, nil}, {1, full}}, false},
		{"a write begun before a refusal, answered after it", []outcome{{2, full}, {1, nil}}, false},
		{"a write answered late, then a refusal begun before a later write", []outcome{{2, full}, {4, nil}, {1, nil}, {3, full}}, false},
		{"a write answered late, then a refusal begun after every write", []outcome{{2, full}, {3, nil}, {1, nil}, {4, full}}, true},
	} {
		var a appendsRefused
		for _, o := range tc.answers {
			a.note(uint64(o.ticket), o.err)
		}
		if cause, _ := a.state(); (cause != "") != tc.refused {
			t.Errorf("%s: /readyz's cause %q; want refused: %v", tc.what, cause, tc.refused)
		}
	}
}
