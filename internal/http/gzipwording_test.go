package http_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAGzipBodyThatIsNotValidGzipIsSaidInOurWords: a body that says it is
// gzip and is not is a 400 whose detail says what is wrong with it, not the
// library's error (a gzip body followed by 100 zero bytes said "…: jsontext:
// read error: gzip: invalid header"; found by a black-box tester).
func TestAGzipBodyThatIsNotValidGzipIsSaidInOurWords(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	path := "/streams/" + uuid.NewString() + "/events"
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	fmt.Fprint(zw, `{"stream_type":"o","events":[{"type":"W","data":{}}]}`)
	zw.Close() //nolint:errcheck // into a buffer
	gz := member.Bytes()
	badSum := bytes.Clone(gz)
	badSum[len(badSum)-8] ^= 0xff // the CRC-32 of the trailer
	badData := bytes.Clone(gz[:10])
	badData = append(badData, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // a reserved block type
	for _, tc := range []struct {
		what, body, want string
	}{
		{"trailing zero bytes", string(gz) + strings.Repeat("\x00", 100), "what follows its first gzip stream is not gzip"},
		{"not gzip at all", `{"stream_type":"o","events":[]}`, "does not start as gzip does"},
		{"a wrong checksum", string(badSum), "checksum"},
		{"corrupt compressed data", string(badData), "compressed data is corrupt"},
	} {
		r := s.do("POST", path, tc.body, "Content-Encoding", "gzip")
		expectStatus(t, tc.what, r, 400)
		d := fmt.Sprint(r.json(t)["detail"])
		if !strings.Contains(d, tc.want) {
			t.Errorf("%s: detail %q, want it to say %q", tc.what, d, tc.want)
		}
		for _, lib := range []string{"gzip:", "flate:", "jsontext:"} {
			if strings.Contains(d, lib) {
				t.Errorf("%s: detail %q says the library's %q; want it in the server's own words", tc.what, d, lib)
			}
		}
	}
}
