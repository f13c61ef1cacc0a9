package http_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// unwrittenPing is a real store whose Ping finds a column of table that
// the store does not write, NOT NULL and without a default, as the MySQL
// store's does (joined with any other partial finding).
type unwrittenPing struct {
	eventstore.Store
	table string
}

func (s *unwrittenPing) Ping(ctx context.Context) error {
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	return errors.Join(fmt.Errorf("ping: %w", &eventstore.UnwrittenColumnError{Table: s.table, Column: "legacy"}))
}

// TestReadyzStaysUpSayingAppendsAreRefusedForAnUnwrittenColumn: a column
// added to streams (or events), NOT NULL and without a default, made
// /readyz answer 503 while reads (and, for streams, appends to a stream
// already there) were served, so every instance on the database left its
// load balancer, reads included; its detail said "every append fails",
// false for streams (a retest). /readyz answers 200, saying appends are
// refused, cause unwritten_column, with a reason naming the table and
// column and, for streams, that only appends that create a stream fail.
// On both stores.
func TestReadyzStaysUpSayingAppendsAreRefusedForAnUnwrittenColumn(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, tc := range []struct{ table, says string }{
			{"streams", "create a stream"},
			{"events", "every append"},
		} {
			s := newServer(t, nil, &unwrittenPing{Store: k.Open(t), table: tc.table})
			got := readyzBody(t, s, "with "+tc.table+".legacy NOT NULL without a default")
			reason, _ := got["reason"].(string)
			if got["appends"] != "refused" || got["cause"] != "unwritten_column" || !strings.Contains(reason, tc.table+".legacy") ||
				!strings.Contains(reason, tc.says) {
				t.Errorf("/readyz with %s.legacy NOT NULL without a default: %v; want 200, appends refused, cause unwritten_column, a reason naming %s.legacy and saying %q",
					tc.table, got, tc.table, tc.says)
			}
			if tc.table == "streams" && strings.Contains(reason, "every append") {
				t.Errorf("/readyz with streams.legacy: reason %q; want it not to say every append is refused (appends to a stream already there are written)", reason)
			}
			expectStatus(t, "a read with "+tc.table+".legacy", s.do(http.MethodGet, "/events", ""), http.StatusOK)
			expectStatus(t, "an append with "+tc.table+".legacy (the store takes it)", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusCreated)
		}
	})
}

// mendingPing is unwrittenPing whose finding says how to mend it, as the
// embedded store's does (SQLite cannot give a column a default).
type mendingPing struct{ eventstore.Store }

const sqliteMend = `drops the column (ALTER TABLE "events" DROP COLUMN "legacy", in an sqlite3 shell beside the server: SQLite cannot give a column a default)`

func (s *mendingPing) Ping(ctx context.Context) error {
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	return fmt.Errorf("ping: %w", &eventstore.UnwrittenColumnError{Table: "events", Column: "legacy", Mend: sqliteMend})
}

// TestReadyzGivesTheStoresWayToMendAnUnwrittenColumn: /readyz's reason
// said "until an operator drops the column or gives it a default" where the
// store said how (the embedded store: drop it, with the statement; SQLite
// cannot give a column a default), advice an operator cannot follow.
func TestReadyzGivesTheStoresWayToMendAnUnwrittenColumn(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, &mendingPing{Store: teststore.SQLite.Open(t)})
	got := readyzBody(t, s, "with events.legacy NOT NULL without a default, on SQLite")
	reason, _ := got["reason"].(string)
	if !strings.Contains(reason, sqliteMend) || strings.Contains(reason, "gives it a default") {
		t.Errorf("/readyz's reason for an unwritten column the store says how to mend: %q; want it to say %q, and not to give it a default", reason, sqliteMend)
	}
}
