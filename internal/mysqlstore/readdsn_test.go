package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAReadDSNTypoIsRefusedBeforeAnyConnection: a read DSN that cannot be
// parsed, or names no database or several servers, was found only once the
// primary had answered: with the primary still starting (or its address
// wrong), start-up retried the primary's outage for the whole start-up
// timeout and then reported that, and the typo only on the next start.
// The read DSN is checked before any connection, with an error naming
// TRIBUTARY_MYSQL_READ_DSN that no retry helps (not ErrUnavailable). The
// primary here is on port 1, where no server listens.
func TestAReadDSNTypoIsRefusedBeforeAnyConnection(t *testing.T) {
	t.Parallel()
	const primary = "root@tcp(127.0.0.1:1)/tributary"
	for _, read := range []string{
		"root@tcp(127.0.0.1:3306/tributary",                  // a parenthesis missing
		"root@tcp(127.0.0.1:3306)",                           // no database
		"root@tcp(127.0.0.1:3306)/",                          // no database
		"root@tcp(127.0.0.1:3306,127.0.0.1:3307)/tributary",  // several servers
		"root@tcp(127.0.0.1:3306)/tributary?sql_log_bin=0",   // a parameter refused
		"root@tcp(127.0.0.1:70000)/tributary",                // no such port
		"root@tcp(127.0.0.1:3306)/tributary?parseTime=maybe", // a driver parameter's value wrong
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: read})
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("Open with the read DSN %q: expected a refusal, it opened", read)
			continue
		}
		if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") {
			t.Errorf("Open with the read DSN %q, the primary out of reach: expected a refusal naming TRIBUTARY_MYSQL_READ_DSN, not ErrUnavailable; got %v", read, err)
		}
	}
}
