package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRedactingLoggerTakesASecretOutOfEveryValueWrittenAsText: the
// message, a string, an error (a driver's, which may quote what a client
// sent), a stream id (a uuid.UUID, written as text), a value in a group
// or given to With: each is passed through redact; a number and a
// duration go as they are. Store-agnostic: both stores' lines go through it.
func TestRedactingLoggerTakesASecretOutOfEveryValueWrittenAsText(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	secret := id.String()
	var buf bytes.Buffer
	log := RedactingLogger(slog.New(slog.NewJSONHandler(&buf, nil)), func(s string) string {
		return strings.ReplaceAll(s, secret, "REDACTED")
	})
	log.With("with", "for "+secret).WithGroup("g").Warn("append to "+secret+" failed",
		"error", fmt.Errorf("append to %s: %w", id, errors.New("Error 1205")), "stream_id", id,
		slog.Group("inner", "s", secret), "n", 7, "d", time.Second)
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("a line through RedactingLogger quotes the secret: %s", out)
	}
	for _, want := range []string{`"msg":"append to REDACTED failed"`, `"with":"for REDACTED"`, `"error":"append to REDACTED: Error 1205"`,
		`"stream_id":"REDACTED"`, `"inner":{"s":"REDACTED"}`, `"n":7`, `"d":1000000000`} {
		if !strings.Contains(out, want) {
			t.Errorf("a line through RedactingLogger: %s; want it to hold %s", out, want)
		}
	}
	if RedactingLogger(log, nil) != log {
		t.Error("RedactingLogger with no redact: want the logger given")
	}
}
