package http_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// firstEventFails is a store whose stream pages fail at their first event,
// as a damaged event, a storage I/O error or a database lost after the
// stream row's read does.
type firstEventFails struct{ eventstore.Store }

func (s firstEventFails) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	page, err := s.Store.ReadStream(ctx, id, opts)
	if err != nil {
		return page, err
	}
	page.Events = func(yield func(eventstore.Event, error) bool) {
		yield(eventstore.Event{}, fmt.Errorf("read stream: %w", eventstore.ErrUnavailable))
	}
	return page, nil
}

// GET of a page whose first event cannot be read answers 503, and HEAD
// of the same page the same (RFC 9110 9.3.2: HEAD is GET without the body).
func TestHeadOfAPageWhoseFirstEventFailsAnswersAsGET(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		id := uuid.New()
		plain := newServer(t, newContract(t), store)
		expectStatus(t, "append", plain.do("POST", "/streams/"+id.String()+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		s := newServer(t, newContract(t), firstEventFails{store})
		path := "/streams/" + id.String() + "/events"
		get := s.do("GET", path, "")
		head := s.do("HEAD", path, "")
		if get.status != head.status {
			t.Errorf("GET %s: %d; HEAD: %d; want the same status", path, get.status, head.status)
		}
	})
}
