package sqlstore

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"reflect"
)

// RedactingLogger returns a logger that writes to log's handler every line
// with redact applied to its message, its keys and group names, and each
// value it writes as text: a string, an error, a fmt.Stringer, an
// encoding.TextMarshaler (a stream id) or a []byte, in groups too; any other
// value (a slice, a map, a struct) whose text (%+v) holds what redact takes
// out is that text, redacted. Numbers, times, durations and booleans go as
// they are. A nil pointer whose Error or String panics is written <nil>, as
// slog's handlers write it. With a nil redact it returns log.
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
	return redactingHandler{next: h.next.WithGroup(h.redact(name)), redact: h.redact}
}

// attr is a with its key, and its value where it is written as text,
// redacted. A value of another kind (a slice, a map, a struct: written
// with %+v, which calls its elements' Error and String methods, or as
// JSON) keeps its shape unless its text holds what redact takes out; then
// it is that text, redacted. A nil pointer whose Error or String panics is
// <nil>, as slog's own handlers write it.
func (h redactingHandler) attr(a slog.Attr) slog.Attr {
	a.Key = h.redact(a.Key)
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
		if text, ok := h.anyText(v.Any()); ok {
			return slog.String(a.Key, text)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// anyText is x as slog writes it as text, redacted, and true; or false
// where x is written as it is (nil, or a value whose text holds nothing
// redact takes out).
func (h redactingHandler) anyText(x any) (text string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			// As slog's handlers: a method that fails to guard against
			// a nil receiver is the likely cause.
			if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
				text, ok = "<nil>", true
				return
			}
			text, ok = h.redact(fmt.Sprintf("!PANIC: %v", r)), true
		}
	}()
	switch x := x.(type) {
	case nil:
		return "", false
	case error:
		return h.redact(x.Error()), true
	case encoding.TextMarshaler:
		b, err := x.MarshalText()
		if err != nil {
			return h.redact(fmt.Sprintf("!ERROR:%v", err)), true
		}
		return h.redact(string(b)), true
	case fmt.Stringer:
		return h.redact(x.String()), true
	case []byte:
		// The text handler writes it as text, the JSON one as base64.
		return h.redact(string(x)), true
	}
	s := fmt.Sprintf("%+v", x)
	if r := h.redact(s); r != s {
		return r, true
	}
	return "", false
}
