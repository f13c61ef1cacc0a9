package http

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAColumnTheStoreDoesNotWriteIsNamedInThe503: on MySQL, a column added
// by hand to events (or streams), NOT NULL and without a default, makes
// every append fail and /readyz too; the store's error names the column
// (and, from /readyz, its table), but the 503 said "The database cannot be
// reached … Try again after Retry-After", which no retry mends and which
// sent an operator to the network. It names the column, as a missing
// column's 503 does, and does not tell the client to try again.
func TestAColumnTheStoreDoesNotWriteIsNamedInThe503(t *testing.T) {
	driver := errors.New("Error 1364 (HY000): Field 'legacy' doesn't have a default value")
	for _, tc := range []struct {
		name    string
		err     error
		names   string
		written bool
	}{
		{"an append", &appendError{fmt.Errorf("append to x: %w", &eventstore.UnwrittenColumnError{Column: "legacy", Err: driver})}, "legacy", true},
		{"/readyz", fmt.Errorf("ping: %w", &eventstore.UnwrittenColumnError{Table: "events", Column: "legacy"}), "events.legacy", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := unavailableDetail(tc.err)
			if !strings.Contains(d, tc.names) || strings.Contains(d, "cannot be reached") || strings.Contains(d, "Try again") {
				t.Errorf("the 503's detail: %q; want it to name %s, and neither say the database cannot be reached nor to try again", d, tc.names)
			}
			if got := strings.Contains(d, "not written"); got != tc.written {
				t.Errorf("the 503's detail: %q; says the append was not written: %v, want %v", d, got, tc.written)
			}
		})
	}
}
