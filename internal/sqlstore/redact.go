package sqlstore

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
)

// RedactingLogger returns a logger that writes to log's handler every line
// with redact applied to its message, its keys and group names, and each
// value it writes as text: a string, an error, a fmt.Stringer, an
// encoding.TextMarshaler (a stream id) or a []byte, in groups too; any other
// value (a slice, a map, a struct, at any depth) that holds what redact
// takes out anywhere a handler may write it (bytes, a pointer's target, a
// field a String hides, what a MarshalJSON writes: valueText) is its text,
// redacted. Numbers, times, durations and booleans go as
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
// JSON) keeps its shape unless what redact takes out is anywhere in it
// (valueText); then it is its text, redacted. A nil pointer whose Error
// or String panics is <nil>, as slog's own handlers write it.
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
// where x is written as it is (nil, or a value nothing of which holds
// what redact takes out). An error, a TextMarshaler, a Stringer and a
// []byte are their text. Any other value is read whole (valueText):
// where what redact takes out is anywhere in it, it is that text,
// redacted, else it goes to the handler as it is.
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
	s, whole := valueText(x)
	if r := h.redact(s); r != s || !whole {
		return r, true
	}
	return "", false
}

// maxValueNodes bounds how much of one value valueText reads: a value
// larger is logged as the text read of it, redacted, not as it is.
const maxValueNodes = 10000

// valueText is x written as text the way that shows everything any of
// slog's handlers may write of it, at any depth: %+v writes nested bytes
// as numbers and nested pointers as addresses, and calls a nested
// Stringer where the JSON handler writes its fields; the JSON handler
// writes bytes as base64 and calls MarshalJSON. Here bytes are text,
// pointers are followed (each once), and each value's fields are written
// beside what its Error, String, MarshalText and MarshalJSON return. whole
// is false where x was larger than maxValueNodes.
func valueText(x any) (text string, whole bool) {
	w := valueWriter{seen: map[[2]uintptr]bool{}}
	w.value(reflect.ValueOf(x), 0)
	return w.b.String(), w.nodes <= maxValueNodes
}

// valueWriter writes values for valueText.
type valueWriter struct {
	b     strings.Builder
	nodes int
	seen  map[[2]uintptr]bool // pointers, maps and slices read: {address, length}
}

// maxValueDepth bounds how deep valueText reads.
const maxValueDepth = 32

func (w *valueWriter) value(v reflect.Value, depth int) {
	w.nodes++
	if !v.IsValid() {
		w.b.WriteString("<nil>")
		return
	}
	if w.nodes > maxValueNodes || depth > maxValueDepth {
		w.nodes = maxValueNodes + 1 // not read whole
		w.b.WriteString("…")
		return
	}
	if v.CanInterface() && v.Kind() != reflect.Interface { // an interface's are its element's
		w.methods(v.Interface())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			w.b.WriteString("<nil>")
			return
		}
		if v.Kind() != reflect.Interface {
			key := [2]uintptr{v.Pointer(), 0}
			if v.Kind() == reflect.Slice {
				key[1] = uintptr(v.Len())
			}
			if w.seen[key] {
				return // written where it was first met
			}
			w.seen[key] = true
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		w.value(v.Elem(), depth+1)
	case reflect.Struct:
		w.b.WriteByte('{')
		for i := range v.NumField() {
			if i > 0 {
				w.b.WriteByte(' ')
			}
			w.b.WriteString(v.Type().Field(i).Name)
			w.b.WriteByte(':')
			w.value(v.Field(i), depth+1)
		}
		w.b.WriteByte('}')
	case reflect.Map:
		// In the order of the keys' text, so that a line is the same
		// each time it is written.
		var entries []string
		for it := v.MapRange(); it.Next(); {
			var e valueWriter
			e.seen, e.nodes = w.seen, w.nodes
			e.value(it.Key(), depth+1)
			e.b.WriteByte(':')
			e.value(it.Value(), depth+1)
			w.nodes = e.nodes
			entries = append(entries, e.b.String())
		}
		slices.Sort(entries)
		w.b.WriteString("map[" + strings.Join(entries, " ") + "]")
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			w.b.Write(b)
			return
		}
		w.b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				w.b.WriteByte(' ')
			}
			w.value(v.Index(i), depth+1)
		}
		w.b.WriteByte(']')
	case reflect.String:
		w.b.WriteString(v.String())
	default:
		fmt.Fprint(&w.b, v) // a number, a bool; a func's or a channel's address
	}
}

// methods writes, of x, what each of its Error, MarshalText, String and
// MarshalJSON returns, before its fields: one handler writes one, another
// another. A method that panics (a nil receiver) writes <nil>.
func (w *valueWriter) methods(x any) {
	call := func(f func() string) {
		defer func() {
			if recover() != nil {
				w.b.WriteString("<nil> ")
			}
		}()
		w.b.WriteString(f() + " ")
	}
	if x, ok := x.(error); ok {
		call(x.Error)
	}
	if x, ok := x.(encoding.TextMarshaler); ok {
		call(func() string { b, _ := x.MarshalText(); return string(b) })
	}
	if x, ok := x.(fmt.Stringer); ok {
		call(x.String)
	}
	if x, ok := x.(json.Marshaler); ok {
		call(func() string { b, _ := x.MarshalJSON(); return string(b) })
	}
}
