package http_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestReadyzSaysAppendsAreRefusedWhileEachIsOfUnknownOutcomeOnAFullDisk:
// on the embedded store, a disk full under the WAL's index (its -shm could
// not grow: SQLITE_IOERR_SHMSIZE at COMMIT) or a sync that failed for want
// of room (a quota, NFS) makes every append of unknown outcome, whose
// cause, outcome_unknown, comes first: /readyz said nothing of appends, and
// each 503 told its client to retry with the same ids after 2 s, as if the
// database had only failed once. /readyz now says appends are refused for
// the cause beneath (full; storage_failed for an I/O error), and the 503
// says the retry waits for room; an append written clears it. On both
// stores, the errors given as the stores make them (sqlstore's settle of an
// uncertain COMMIT, translated).
func TestReadyzSaysAppendsAreRefusedWhileEachIsOfUnknownOutcomeOnAFullDisk(t *testing.T) {
	t.Parallel()
	unknown := fmt.Errorf("%w: COMMIT went out, and whether it committed, durably, could not be found out", eventstore.ErrOutcomeUnknown)
	uncertain := func(beneath error) error {
		return fmt.Errorf("append to x: %w (its COMMIT failed to sync to disk, and a restart may yet find it written): %w", unknown, beneath)
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &refusingAppends{Store: k.Open(t)}
		s := newServer(t, nil, store)
		for _, tc := range []struct {
			cause, says string
			err         error
		}{
			{"full", "room", uncertain(fmt.Errorf("%w: %w: the file system of /data refused a write, and has no room left for this server: disk I/O error (4874)",
				eventstore.ErrUnavailable, fmt.Errorf("%w (%w)", eventstore.ErrFull, eventstore.ErrDiskFull)))},
			{"storage_failed", "storage", uncertain(fmt.Errorf("%w: %w: the file system of the database's files failed a read, a write or a sync: disk I/O error (1034)",
				eventstore.ErrUnavailable, eventstore.ErrStorageFailed))},
		} {
			store.err.Store(&tc.err)
			r := s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent)
			expectStatus(t, "an append of unknown outcome ("+tc.cause+")", r, http.StatusServiceUnavailable)
			detail, _ := r.json(t)["detail"].(string)
			if !strings.Contains(detail, "may have been written") || !strings.Contains(detail, "same event ids") ||
				!strings.Contains(strings.ToLower(detail), tc.says) || r.header.Get("Retry-After") != "2" {
				t.Errorf("an append of unknown outcome (%s): detail %q, Retry-After %q; want it may have been written, to retry with the same "+
					"event ids, saying %q, and Retry-After 2", tc.cause, detail, r.header.Get("Retry-After"), tc.says)
			}
			got := readyzBody(t, s, "with every append of unknown outcome ("+tc.cause+")")
			if got["appends"] != "refused" || got["cause"] != tc.cause {
				t.Errorf("/readyz with every append of unknown outcome (%s beneath): %v; want appends refused, cause %q", tc.cause, got, tc.cause)
			}
			var none error
			store.err.Store(&none)
			expectStatus(t, "an append once the database takes them again", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusCreated)
			if got := readyzBody(t, s, "once an append is written again ("+tc.cause+")"); len(got) != 1 {
				t.Errorf("/readyz once an append is written again: %v; want only the status", got)
			}
		}
		// An unknown outcome of any other cause (a connection lost at
		// COMMIT) is no refusal: the next append may well pass.
		lost := uncertain(fmt.Errorf("%w: %w", eventstore.ErrUnavailable, errors.New("invalid connection")))
		store.err.Store(&lost)
		expectStatus(t, "an append whose COMMIT's answer was lost", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusServiceUnavailable)
		if got := readyzBody(t, s, "after an append whose COMMIT's answer was lost"); len(got) != 1 {
			t.Errorf("/readyz after an append whose COMMIT's answer was lost: %v; want only the status", got)
		}
	})
}
