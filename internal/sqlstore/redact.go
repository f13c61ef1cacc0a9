package sqlstore

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
)

// RedactingLogger returns a logger that writes to log's handler every line
// with redact applied to its message and to each value it writes as text:
// a string, an error, a fmt.Stringer or an encoding.TextMarshaler (a
// stream id), in groups too. Numbers, times, durations and booleans go as
// they are. With a nil redact it returns log.
func RedactingLogger(log *slog.Logger, redact func(string) string) *slog.Logger {
	if redact == nil {
		return log
	}
	return slog.New(redactingHandler{next: log.Handler(), redact: redact})
}

// redactingHandler is RedactingLogger's handler.
type redactingHandler struct {
	next   slog.Handler
	redact func(string) string
}

func (h redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	redacted := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		redacted[i] = h.attr(a)
	}
	return redactingHandler{next: h.next.WithAttrs(redacted), redact: h.redact}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{next: h.next.WithGroup(name), redact: h.redact}
}

// attr is a with its value redacted where it is written as text.
func (h redactingHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		redacted := make([]slog.Attr, len(group))
		for i, g := range group {
			redacted[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(redacted...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.redact(x.Error()))
		case encoding.TextMarshaler:
			text, err := x.MarshalText()
			if err != nil {
				return slog.String(a.Key, h.redact(fmt.Sprintf("!ERROR:%v", err)))
			}
			return slog.String(a.Key, h.redact(string(text)))
		case fmt.Stringer:
			return slog.String(a.Key, h.redact(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
