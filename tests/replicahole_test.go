package tests

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPlainReadOfAReplicaThatLostAnEventIsRefusedNotServedWithTheHole:
// with no subscriber and no Tributary-Min-Position, a read of a stream, or
// of the log, across an append the replica skipped
// (sql_slave_skip_counter) was 503 only while the hole was younger than a
// commit on its way, and then 200 without the event, for good: a reader
// rebuilding the aggregate silently missed it. The read now asks the
// primary at the hole: it has the event, so the replica is refused as
// serving another log.
func TestAPlainReadOfAReplicaThatLostAnEventIsRefusedNotServedWithTheHole(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	stream := newID()
	head := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")}).Events[1].Position
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(head, 10)), http.StatusOK)

	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	lost := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Paid")}).Events[0].Position
	replica.Exec(t, "SET GLOBAL sql_slave_skip_counter=1", "START SLAVE SQL_THREAD")
	next := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Shipped")}).Events[0].Position
	waitForReplica(t, replica, fmt.Sprintf("SELECT COUNT(*) FROM tributary.events WHERE position = %d", next), fmt.Sprintf("the event at %d", next))

	for _, path := range []string{"/streams/" + stream + "/events", "/events?after=" + strconv.FormatInt(lost-2, 10)} {
		// While the hole is younger than a commit on its way, the read
		// waits for it, and is 503 "not visible yet"; then it is judged.
		var r *response
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			r = s.get(t, path)
			if r.Status == http.StatusOK || strings.Contains(string(r.Body), "another log") || time.Now().After(deadline) {
				break
			}
		}
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "read replica serves another log") {
			t.Errorf("GET %s, the replica lacking the event at %d that the primary has: %d %s; want 503 saying the read replica serves another log",
				path, lost, r.Status, r.Body)
		}
	}
}
