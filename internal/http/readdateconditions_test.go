package http_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadIgnoresDateConditionsAndRangeAsREADMESays: no answer carries
// Last-Modified, so README says a read ignores If-Modified-Since and
// If-Unmodified-Since, a date or not, and Range and If-Range: an
// If-Unmodified-Since long past does not make a read a 412, nor an
// If-Modified-Since to come a 304. Pinned so that README is told if that
// changes.
func TestAReadIgnoresDateConditionsAndRangeAsREADMESays(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	id := uuid.NewString()
	expectStatus(t, "the append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
	for _, h := range [][]string{
		{"If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"},
		{"If-Unmodified-Since", "yesterday"},
		{"If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"},
		{"If-Modified-Since", "tomorrow"},
		{"Range", "bytes=0-3"},
		{"If-Range", `"1"`},
	} {
		for _, path := range []string{"/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1", "/events"} {
			r := s.do("GET", path, "", h...)
			if r.status != 200 || r.header.Get("Last-Modified") != "" || len(r.body) == 0 {
				t.Errorf("GET %s with %s: %d %v %s; want the 200 as without it, no Last-Modified", path, h, r.status, r.header, r.body)
			}
		}
	}
}
