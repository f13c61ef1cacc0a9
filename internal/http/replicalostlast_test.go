package http_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// lostLast is a read replica, the store, at the primary's head, whose
// primary has one version more of every stream than it does: the
// replica lost each stream's last append (a transaction skipped on it),
// and has every later one of the log.
type lostLast struct{ store eventstore.Store }

func (r *lostLast) PrimaryStreamVersion(ctx context.Context, id uuid.UUID) (int64, error) {
	st, err := r.store.Stream(ctx, id)
	if err != nil {
		return 0, err
	}
	return st.Version + 1, nil
}

func (r *lostLast) HasPosition(context.Context, int64) error { return nil }

func (r *lostLast) ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error) {
	head, err := r.store.Head(ctx)
	if err != nil {
		return eventstore.ReplicaLag{}, err
	}
	return eventstore.ReplicaLag{PrimaryHead: head, Seconds: 0, Replicating: true}, nil
}

// TestAStreamResumeAtAVersionThePrimaryHasIsNotAheadBehindAReplicaLackingIt:
// a stream subscription resuming after version v (Last-Event-ID), behind a
// read replica at the primary's head whose stream lacks v while the
// primary has it (the replica lost the stream's last append), was refused
// 409 starting-point-ahead, "no append answered that version on this
// database": false (the primary has it), and a 409 stops an EventSource
// for ever. It is a 503 with Retry-After, as a resume point the replica
// lacks is. On both stores.
func TestAStreamResumeAtAVersionThePrimaryHasIsNotAheadBehindAReplicaLackingIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		replica := &lostLast{}
		store, _, srv := liveServerOf(t, k, esthttp.Options{Replica: replica, RequestTimeout: time.Second}, nil)
		replica.store = store
		id, _ := appendOneEvent(t, store)
		resp, body, _ := getTimed(t, srv.URL+"/streams/"+id.String()+"/events", "text/event-stream", "Last-Event-ID", "2")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "starting-point-ahead") {
			t.Errorf("GET a stream with Last-Event-ID 2, which the primary has and the replica (at the primary's head) lacks: %d, Retry-After %q, %s; "+
				"want 503 with Retry-After, not 409 starting-point-ahead", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	})
}
