package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestABodyShorterThanAGzipHeaderIsSaidNotToStartAsGzip: a body sent with
// Content-Encoding: gzip that is shorter than a gzip header (10 bytes) and
// does not start as gzip does ("{}", "[1]") was told it "ends in the middle
// of a gzip stream", where a longer one was told it "does not start as
// gzip does": it is told the latter now, as the longer one is. One that
// starts as gzip and is cut inside its header is still told it is cut
// short.
func TestABodyShorterThanAGzipHeaderIsSaidNotToStartAsGzip(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	path := "/streams/" + uuid.NewString() + "/events"
	for _, tc := range []struct {
		what, body, want string
	}{
		{"{}", "{}", "does not start as gzip does"},
		{"[1]", "[1]", "does not start as gzip does"},
		{"one byte", "x", "does not start as gzip does"},
		{"nine bytes", `{"a":123}`, "does not start as gzip does"},
		{"gzip's magic then deflate's method, cut", "\x1f\x8b\x08\x00", "ends in the middle of a gzip stream"},
		{"gzip's first byte alone", "\x1f", "ends in the middle of a gzip stream"},
		{"gzip's magic, another method", "\x1f\x8b\x07", "does not start as gzip does"},
	} {
		r := s.do("POST", path, tc.body, "Content-Encoding", "gzip")
		expectStatus(t, tc.what, r, 400)
		if d := fmt.Sprint(r.json(t)["detail"]); !strings.Contains(d, tc.want) {
			t.Errorf("a gzip body %q (%s): detail %q; want it to say %q", tc.body, tc.what, d, tc.want)
		}
	}
}
