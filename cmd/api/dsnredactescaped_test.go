package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADSNsPasswordQuotedEscapedIsRedacted: a proxy's or a plugin's error
// may quote the password as Go's %q writes it (a quote or a backslash in
// it escaped) or URL-encoded (a URL it was sent in); the redaction looked
// for the password as written in the DSN only, so such a line passed it in
// clear, escaped.
func TestADSNsPasswordQuotedEscapedIsRedacted(t *testing.T) {
	t.Parallel()
	const pw = `Long"Secret\0123 &/x`
	quoted := strconv.Quote(pw)
	escaped := quoted[1 : len(quoted)-1]
	for _, form := range []string{escaped, url.QueryEscape(pw), url.PathEscape(pw)} {
		var logs testlog.Buffer
		log := redactDSNPasswords(newLogger(&logs, slog.LevelInfo), "app:"+pw+"@tcp(db:3306)/tributary")
		log.Warn("refused: using password " + form)
		log.Warn("refused", "reason", "using password "+form, "status", 503)
		log.Warn("refused", "error", fmt.Errorf("ping: %s", "using password "+form))
		log.Warn("refused", slog.Group("db", "error", "sent "+form))
		err := withoutDSNPasswords(fmt.Errorf("open: using password %s", form), "app:"+pw+"@tcp(db:3306)/tributary")
		if strings.Contains(err.Error(), form) {
			t.Errorf("the error written to stderr quotes the DSN's password as %q; want it redacted: %s", form, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var fields map[string]any
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Fatalf("a line that is not JSON: %v\n%s", err, line)
			}
			if s := fmt.Sprint(fields); strings.Contains(s, form) {
				t.Errorf("a line quotes the DSN's password as %q; want it redacted:\n%s", form, line)
			}
		}
	}
}
