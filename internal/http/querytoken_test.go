package http_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestATokenInTheQueryOfAWriteIsRefusedWithAccessControlOff: with tokens
// on, ?access_token= on a POST is a 400 (a token is taken in a URL only on
// a GET or HEAD); with access control off the same POST wrote its events
// (201): a client tested on a server without tokens passed, then every
// append failed once tokens were turned on in production. It is the same
// 400 either way, and nothing is written.
func TestATokenInTheQueryOfAWriteIsRefusedWithAccessControlOff(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := serveWith(t, k.Open(t), esthttp.Options{})
		path := "/streams/" + uuid.NewString() + "/events"
		r := s.do("POST", path+"?access_token=abcdefabcdefabcdef", `{"stream_type":"order","events":[{"type":"A","data":1}]}`)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "?access_token= is taken only on a GET or HEAD") {
			t.Fatalf("POST with ?access_token=, access control off: %d %s; want the 400 it is with tokens on", r.status, r.body)
		}
		if r := s.do("GET", path, ""); r.status != http.StatusNotFound {
			t.Errorf("the stream after the refused POST: %d; want 404 (nothing written)", r.status)
		}
	})
}
