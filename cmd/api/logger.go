package main

import (
	"encoding"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"
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
//
// slog calls it for each attribute of a group, but a struct, map or list
// logged as one value is written by encoding/json, durations in
// nanoseconds: one that holds a duration is given back as what slog writes
// the same way (durationsWithin).
func durationInMilliseconds(groups []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		return slog.Float64(withMs(a.Key), milliseconds(a.Value.Duration()))
	case slog.KindAny:
		if len(groups) < maxDurationDepth {
			return durationsWithin(a)
		}
	}
	return a
}

// maxDurationDepth is how deep in groups durationsWithin still looks: a
// struct that points to itself is left to encoding/json below it.
const maxDurationDepth = 8

func withMs(key string) string {
	if strings.HasSuffix(key, "_ms") {
		return key
	}
	return key + "_ms"
}

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

var (
	durationType      = reflect.TypeFor[time.Duration]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// durationsWithin gives a back with the durations in its value written as
// slog writes one: a struct (or a pointer to one) as a group of the fields
// encoding/json would write, under the names it would give them; a map
// with string keys as a group, in key order; a list of durations as a
// list of milliseconds under the key with _ms added. Each group's
// attributes come back here, so durations deeper down follow. A value
// with no duration in it, or that writes itself (an error, a
// json.Marshaler or encoding.TextMarshaler: a time.Time, a UUID), is left
// as encoding/json writes it.
func durationsWithin(a slog.Attr) slog.Attr {
	v := reflect.ValueOf(a.Value.Any())
	if !v.IsValid() || writesItself(v.Type()) || !holdsDuration(v.Type(), nil) {
		return a
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return a
		}
		v = v.Elem()
	}
	if v.Type() == durationType { // it was a pointer to one
		return slog.Float64(withMs(a.Key), milliseconds(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.Struct:
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(fieldsOf(v)...)}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return a
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		attrs := make([]slog.Attr, 0, len(keys))
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k.String(), v.MapIndex(k).Interface()))
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(attrs...)}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem() != durationType || (v.Kind() == reflect.Slice && v.IsNil()) {
			return a // a list of structs stays encoding/json's: slog has no list of groups
		}
		ms := make([]float64, v.Len())
		for i := range ms {
			ms[i] = milliseconds(time.Duration(v.Index(i).Int()))
		}
		return slog.Any(withMs(a.Key), ms)
	}
	return a
}

// fieldsOf is the fields of struct v that encoding/json writes, each under
// the name it gives it; an embedded struct's fields are inlined, as it
// inlines them (a group with no key).
func fieldsOf(v reflect.Value) []slog.Attr {
	t := v.Type()
	var attrs []slog.Attr
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !writesItself(ft) {
				for fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						break
					}
					fv = fv.Elem()
				}
				if fv.Kind() == reflect.Struct {
					attrs = append(attrs, slog.Attr{Value: slog.GroupValue(fieldsOf(fv)...)})
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(","+opts+",", ",omitempty,") && fv.IsZero() {
			continue
		}
		attrs = append(attrs, slog.Any(name, fv.Interface()))
	}
	return attrs
}

// writesItself says whether encoding/json writes t as t says (or slog
// writes an error's message).
func writesItself(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) || t.Implements(reflect.TypeFor[error]()) ||
		reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

// holdsDuration says whether a value of type t may hold a duration that
// durationsWithin writes in milliseconds. seen stops at a type met
// already (one that points to itself).
func holdsDuration(t reflect.Type, seen []reflect.Type) bool {
	if t == durationType {
		return true
	}
	if writesItself(t) || slices.Contains(seen, t) {
		return false
	}
	seen = append(seen, t)
	switch t.Kind() {
	case reflect.Pointer:
		return holdsDuration(t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		return t.Elem() == durationType
	case reflect.Map:
		return t.Key().Kind() == reflect.String && holdsDuration(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && holdsDuration(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
