package sqlstore

import (
	"bytes"
	"encoding/base64"
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

// nilError is an error whose Error, on a nil pointer, panics (as most
// do): slog's own handlers write such a value as <nil>.
type nilError struct{ msg string }

func (e *nilError) Error() string { return e.msg }

// nilStringer is nilError's fmt.Stringer.
type nilStringer struct{ s string }

func (s *nilStringer) String() string { return s.s }

// secretValuer is a slog.LogValuer whose value is a secret's bytes.
type secretValuer []byte

func (v secretValuer) LogValue() slog.Value { return slog.AnyValue([]byte(v)) }

// TestRedactingLoggerTakesASecretOutOfEveryShapeOfValue: a value slog
// writes as text by other means than a string, an error, a Stringer or a
// TextMarshaler ([]byte, written as text by the text handler and as
// base64 by the JSON one; a slice, a map or a struct, written with %+v,
// which calls its elements' Error and String; a LogValuer's bytes; a
// key) went through as it was, the secret in it; and a nil pointer whose
// Error or String panics, which slog's handlers write as <nil>, made the
// line panic in the store's goroutine. Each is redacted now, a value
// without a secret keeps its shape (a slice stays a JSON array), and a
// nil pointer is <nil>. Store-agnostic: both stores' lines go through it.
func TestRedactingLoggerTakesASecretOutOfEveryShapeOfValue(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-token-0123456789"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "REDACTED") }
	var nilErr *nilError
	var nilStr *nilStringer
	args := []any{"bytes", []byte("for " + secret), "list", []string{"a", secret}, "map", map[string]string{"k": secret},
		"errs", []error{errors.New("in " + secret)}, "struct", struct{ S string }{secret}, "valuer", secretValuer(secret),
		secret, 1, slog.Group("g", "inner", []byte(secret)), "nil_error", nilErr, "nil_stringer", nilStr,
		"clean", []string{"x", "y"}}
	for name, handler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := RedactingLogger(slog.New(handler(&buf)), redact)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("a line through RedactingLogger panicked: %v", r)
					}
				}()
				log.With("with_bytes", []byte(secret)).Warn("shapes", args...)
			}()
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("a line through RedactingLogger quotes the secret: %s", out)
			}
			if b64 := base64.StdEncoding.EncodeToString([]byte(secret)); strings.Contains(out, b64[:len(b64)-4]) {
				t.Errorf("a line through RedactingLogger quotes the secret in base64: %s", out)
			}
			want := []string{`nil_error=<nil>`, `nil_stringer=<nil>`, `clean="[x y]"`, `bytes="for REDACTED"`}
			if name == "json" {
				want = []string{`"nil_error":"<nil>"`, `"nil_stringer":"<nil>"`, `"clean":["x","y"]`, `"bytes":"for REDACTED"`}
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("a line through RedactingLogger: %s; want it to hold %s", out, w)
				}
			}
		})
	}
}
