package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// BenchmarkAccessLineRedacted is the cost the DSN password redaction adds
// to a request's access line: one without a password, through the
// redacting logger, beside the same line through the plain one.
func BenchmarkAccessLineRedacted(b *testing.B) {
	const dsn = `app:Long"Secret\0123 &/x@tcp(db:3306)/tributary`
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"plain", newLogger(io.Discard, slog.LevelInfo)},
		{"redacting", redactDSNPasswords(newLogger(io.Discard, slog.LevelInfo), dsn)},
		// A one-letter password, in most of the line's words: each is
		// looked at (quotedPasswordAt).
		{"redacting a short one", redactDSNPasswords(newLogger(io.Discard, slog.LevelInfo), "app:e@tcp(db:3306)/tributary")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.log.Info("request", "method", "POST", "path", "/streams/order-123/events", "status", 201,
					"bytes", 512, "duration", 1500*time.Microsecond, "remote", "10.0.0.7:51234", "client", "token app")
			}
		})
	}
}

// BenchmarkShortPasswordInALongLine is the redaction of a one-letter
// password in a long error line holding it in most of its words: each
// occurrence is looked at, at a cost that must not grow with the line.
func BenchmarkShortPasswordInALongLine(b *testing.B) {
	log := redactDSNPasswords(newLogger(io.Discard, slog.LevelInfo), "app:e@tcp(db:3306)/tributary")
	line := strings.Repeat("the server sent the reply; ", 400) + "using password 'e'"
	b.ReportAllocs()
	for b.Loop() {
		log.Warn("refused", "error", line)
	}
}
