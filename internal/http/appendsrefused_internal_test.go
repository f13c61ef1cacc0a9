package http

import (
	"fmt"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAppendsRefusedOrdersRefusalsByBeginAndWritesByAnswer: outcomes the
// writer ordered are taken in its order; of the others, a refusal of an
// append begun before the latest outcome noted is older news; a write
// clears every refusal noted before its answer, whenever it began, and
// does not make a refusal begun before a later write news again.
func TestAppendsRefusedOrdersRefusalsByBeginAndWritesByAnswer(t *testing.T) {
	t.Parallel()
	full := fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)
	type outcome struct {
		ticket int // the order it began in, from 1
		err    error
		order  int64 // the writer's order of its outcome; 0: not the writer's
	}
	for _, tc := range []struct {
		what    string
		answers []outcome // in the order they were answered
		refused bool
	}{
		{"a refusal, then a write begun after it", []outcome{{1, full, 0}, {2, nil, 0}}, false},
		{"a write, then a refusal begun after it", []outcome{{1, nil, 0}, {2, full, 0}}, true},
		{"a refusal begun before a write, answered after it", []outcome{{2, nil, 0}, {1, full, 0}}, false},
		{"a write begun before a refusal, answered after it", []outcome{{2, full, 0}, {1, nil, 0}}, false},
		{"a write answered late, then a refusal begun before a later write", []outcome{{2, full, 0}, {4, nil, 0}, {1, nil, 0}, {3, full, 0}}, false},
		{"a write answered late, then a refusal begun after every write", []outcome{{2, full, 0}, {3, nil, 0}, {1, nil, 0}, {4, full, 0}}, true},
		// Ordered by the writer: when each outcome was decided, whenever
		// it began or was answered (a hostile review: a write committed
		// before a refusal, its handler run after the refusal's, cleared it).
		{"a write decided before a refusal, answered after it", []outcome{{2, full, 2}, {1, nil, 1}}, true},
		{"a write decided after a refusal, answered after it", []outcome{{1, full, 1}, {2, nil, 2}}, false},
		{"a refusal decided before a write, answered after it", []outcome{{1, nil, 2}, {2, full, 1}}, false},
		{"a refusal decided after a write, answered after it", []outcome{{1, nil, 1}, {2, full, 2}}, true},
		{"a write begun first, decided last, answered first", []outcome{{1, nil, 3}, {2, full, 2}}, false},
		{"a refusal not the writer's after a write noted", []outcome{{1, nil, 1}, {2, full, 0}}, true},
		{"a write decided after a refusal not the writer's", []outcome{{1, full, 0}, {2, nil, 1}}, false},
	} {
		var a appendsRefused
		for _, o := range tc.answers {
			a.note(int64(o.ticket), o.order, o.err)
		}
		if cause, _ := a.state(); (cause != "") != tc.refused {
			t.Errorf("%s: /readyz's cause %q; want refused: %v", tc.what, cause, tc.refused)
		}
	}
}
