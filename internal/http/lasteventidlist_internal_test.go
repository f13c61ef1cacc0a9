package http

import (
	"net/http/httptest"
	"testing"
)

// TestTwoLastEventIDHeadersAreListedForHumans: the 400 for a subscription
// sent more than one Last-Event-ID quoted them as Go writes a []string,
// `not 2 (["1" "2"])`, which a curl or browser user does not read as a
// list. It lists them as the other details quote what was sent.
func TestTwoLastEventIDHeadersAreListedForHumans(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want string
	}{
		{[]string{"1", "2"}, `send one Last-Event-ID header, not 2 (got "1" and "2")`},
		{[]string{"1", "2", "x"}, `send one Last-Event-ID header, not 3 (got "1", "2" and "x")`},
	} {
		r := httptest.NewRequest("GET", "/events", nil)
		for _, v := range tc.vals {
			r.Header.Add("Last-Event-ID", v)
		}
		_, _, err := lastEventID(r)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Last-Event-ID sent as %d headers: %v; want %q", len(tc.vals), err, tc.want)
		}
	}
}
