package http

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// replicaStall is a read refused by the read replica's stall watch, as the
// MySQL store marks it: a timeout, and the replica's (ReadReplica).
type replicaStall struct{}

func (replicaStall) Error() string {
	return "database unavailable: the read replica has not answered for 10s"
}
func (replicaStall) Timeout() bool     { return true }
func (replicaStall) Temporary() bool   { return true }
func (replicaStall) ReadReplica() bool { return true }

var _ net.Error = replicaStall{}

// TestAReadReplicasOutageAndOtherLogAreNamedInTheDetail: a read refused
// because the read replica stalled, or was found serving another log than
// the primary's, said "The database cannot be reached", which sent an
// operator to the primary, where the README says the detail names the read
// replica. Each says what it is now.
func TestAReadReplicasOutageAndOtherLogAreNamedInTheDetail(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want []string
	}{
		{"stalled", fmt.Errorf("read stream x: %w", replicaStall{}), []string{"read replica", "not answered", "Retry-After"}},
		{"other log", fmt.Errorf("%w: %w: at position 3 it holds another event", eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog),
			[]string{"read replica", "another log", "Retry-After"}},
	} {
		d := unavailableDetail(c.err)
		for _, w := range c.want {
			if !strings.Contains(d, w) {
				t.Errorf("%s: detail %q; want it to say %q", c.name, d, w)
			}
		}
		if strings.Contains(d, "cannot be reached") {
			t.Errorf("%s: detail %q; want no generic \"cannot be reached\"", c.name, d)
		}
	}
}
