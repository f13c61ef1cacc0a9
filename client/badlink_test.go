package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAnUnparsableNextLinkIsQuotedShort: a next link that is no URI
// reference (a bad %-escape) ended the read with an error that quoted
// the link at most 200 bytes long, and then url.Parse's own error, which
// quotes it whole: a server or proxy whose link ran to 100 KiB made the
// read's error that long, into the caller's logs. The error now quotes
// the link's start only.
func TestAnUnparsableNextLinkIsQuotedShort(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10)
	for name, link := range map[string]string{
		"a bad escape at its start": `</%zz/events?after=1&pad=` + long + `>; rel="next"`,
		"a bad escape at its end":   `</events/` + long + `%zz?after=1>; rel="next"`,
		"a bad port":                `<http://host:port` + long + `/events?after=1>; rel="next"`,
		"a path read as a bad host": `<http://host//h:p` + long + `/events?after=1>; rel="next"`,
	} {
		c := serving(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Link", link)
			io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
		})
		var last error
		for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
			last = err
		}
		if last == nil || len(last.Error()) > 2048 {
			n := 0
			if last != nil {
				n = len(last.Error())
			}
			t.Errorf("%s: the read ended with an error of %d bytes (%.300v); expected one of at most 2 KiB", name, n, last)
		}
	}
}
