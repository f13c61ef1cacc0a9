package http

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestALogHeadBehindItsEventsIsNotCalledADamagedFile: on MySQL, a log
// head behind its events (a restore from dumps taken apart) is damage no
// retry mends, and its 503 has no Retry-After; but its detail said the
// server's database file was damaged and to restore it from a backup,
// which sends a MySQL operator the wrong way. It says what is wrong.
func TestALogHeadBehindItsEventsIsNotCalledADamagedFile(t *testing.T) {
	err := &appendError{fmt.Errorf("append to x: %w: %w: %w: log_head.position = 3, events to 5", eventstore.ErrUnavailable, eventstore.ErrDamaged, eventstore.ErrHeadBehind)}
	d := unavailableDetail(err)
	if strings.Contains(d, "file") || !strings.Contains(d, "head") || !strings.Contains(d, "not written") {
		t.Errorf("the detail of an append refused for a log head behind its events: %q; want it to name the log's head, say the append was not written, and not speak of a file", d)
	}
	if retryAfter(err) != "" {
		t.Errorf("a log head behind its events: Retry-After %q; want none (no retry mends it)", retryAfter(err))
	}
}
