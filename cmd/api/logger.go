package main

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger returns the service's logger: JSON lines on w from level up,
// every time.Duration in milliseconds (durationInMilliseconds).
func newLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationInMilliseconds}))
}

// durationInMilliseconds writes a time.Duration as milliseconds, to the
// microsecond, under its key with _ms added: "timeout_ms":30000 where slog
// wrote "timeout":30000000000, nanoseconds under a key that says no unit.
// It is the access log's duration_ms, so that one field name means one unit
// in every line, and stays a number a dashboard can add up and compare,
// which a string such as "1.5s" or "556.856µs" would not.
func durationInMilliseconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	return slog.Float64(key, float64(a.Value.Duration().Microseconds())/1000)
}
