package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionsUnknownParameterListsOnlyWhatItTakes: an unknown query
// parameter on a subscription was a 400 saying the URL "takes only from,
// limit, direction" (the log's: "after, limit, stream_type, type"), though
// a subscription refuses limit and direction as only for pages: a user who
// followed it met a second 400. It lists what a subscription takes.
func TestASubscriptionsUnknownParameterListsOnlyWhatItTakes(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		for _, c := range []struct{ path, want string }{
			{"/streams/" + uuid.NewString() + "/events?x=1", "takes only from"},
			{"/events?x=1", "takes only after, stream_type, type"},
		} {
			r := s.do("GET", c.path, "", "Accept", "text/event-stream")
			detail, _ := r.json(t)["detail"].(string)
			if r.status != 400 || !strings.Contains(detail, c.want) || strings.Contains(detail, "limit") || strings.Contains(detail, "direction") {
				t.Errorf("a subscription to %s: %d %q; want 400 saying it %s, without limit or direction", c.path, r.status, detail, c.want)
			}
		}
		// A page lists them still.
		r := s.do("GET", "/events?x=1", "")
		if detail, _ := r.json(t)["detail"].(string); r.status != 400 || !strings.Contains(detail, "limit") {
			t.Errorf("a page of /events?x=1: %d %q; want 400 listing limit", r.status, detail)
		}
	})
}
