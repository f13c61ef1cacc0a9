package sqlstore

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestADamagedStreamReadOverAndOverMovesTheCommitIDOnceASecond: a client
// reading a damaged stream in a loop must not take the log's lock at each
// read (dropSnapshots), while another damaged stream, or the same one a
// second later or after a move that failed, moves it again.
func TestADamagedStreamReadOverAndOverMovesTheCommitIDOnceASecond(t *testing.T) {
	t.Parallel()
	var d droppedFor
	id, other := uuid.New(), uuid.New()
	now := time.Now()
	for i, c := range []struct {
		what string
		id   uuid.UUID
		at   time.Time
		want bool
	}{
		{"the first meeting", id, now, true},
		{"again at once", id, now, false},
		{"again within the second", id, now.Add(dropSnapshotsEvery - time.Millisecond), false},
		{"another stream", other, now, true},
		{"again a second later", id, now.Add(dropSnapshotsEvery), true},
	} {
		if got := d.first(c.id, c.at); got != c.want {
			t.Errorf("%d, %s: moves the commit id %t; want %t", i, c.what, got, c.want)
		}
	}
	d.forget(other)
	if !d.first(other, now) {
		t.Errorf("after a move that failed (forget): the commit id is not moved again; want it moved")
	}
}
