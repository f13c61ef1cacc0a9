package http_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestARequestRefusedForItsLengthSaidTwoWaysIsLoggedWithTheReason: a
// request whose headers say its length two ways (request smuggling) was
// answered its 400, but its access line said only route "unmatched" and
// status 400, as a typo's: an operator could not tell a front end that
// misframes every client's requests from one bad client. The line now
// says why it was refused.
func TestARequestRefusedForItsLengthSaidTwoWaysIsLoggedWithTheReason(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	addr := startFramingServerLogging(t, slog.New(slog.NewJSONHandler(logs, nil)))
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	for _, tc := range []struct{ name, proto, headers, want string }{
		{"both", "HTTP/1.1", "Transfer-Encoding: chunked\r\nContent-Length: 200\r\n", `"refused":"length said two ways`},
		{"HTTP/1.0 with Transfer-Encoding", "HTTP/1.0", "Transfer-Encoding: chunked\r\n", `"refused":"Transfer-Encoding on HTTP/1.0`},
	} {
		id := uuid.NewString()
		sent := "POST /streams/" + id + "/events " + tc.proto + "\r\nHost: x\r\nContent-Type: application/json\r\n" + tc.headers + "\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		answers, _ := exchangeAll(t, addr, sent)
		if len(answers) != 1 || answers[0].status != 400 {
			t.Fatalf("%s: answers %v; want one 400", tc.name, answers)
		}
		var line string
		for deadline := time.Now().Add(20 * time.Second); line == "" && time.Now().Before(deadline); { // a hang guard
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, id) {
					line = l
				}
			}
			if line == "" {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !strings.Contains(line, tc.want) {
			t.Errorf("%s: access line %q; want it to say %s", tc.name, line, tc.want)
		}
	}
}
