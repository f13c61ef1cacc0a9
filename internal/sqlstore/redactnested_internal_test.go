package sqlstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// hider is a fmt.Stringer whose String leaves out its exported field: the
// text handler writes String, the JSON one the field.
type hider struct{ Secret string }

func (hider) String() string { return "hidden" }

// marshalsSecret writes, as JSON, what no field of it holds.
type marshalsSecret struct{ s string }

func (m marshalsSecret) MarshalJSON() ([]byte, error) { return json.Marshal(m.s) }

// groupValuer is a slog.LogValuer whose value is a group holding bytes
// nested in a struct.
type groupValuer struct{ b []byte }

func (v groupValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("inner", struct{ B []byte }{v.b}))
}

// TestRedactingLoggerTakesASecretOutOfEveryNestedValue: a value a line
// logs as a whole (a struct, a map, a slice of structs) was redacted only
// where its %+v text held the secret: bytes nested in it are numbers
// there ([115 51 …]) and base64 in the JSON handler's line, a pointer
// nested in it is an address there and its target in the JSON line, a
// json.RawMessage and a MarshalJSON are numbers or nothing there and the
// secret in the JSON line, and a nested Stringer's String hid the field
// the JSON line writes. Every shape, in the text and the JSON handler's
// lines, is redacted now by one walk of the value that reads what any
// handler may write of it. Store-agnostic: both stores' lines go through it.
func TestRedactingLoggerTakesASecretOutOfEveryNestedValue(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-token-0123456789"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "REDACTED") }
	type inner struct{ S string }
	type unexported struct{ b []byte }
	p := &inner{secret}
	args := []any{
		"struct_bytes", struct{ B []byte }{[]byte(secret)},
		"map_bytes", map[string][]byte{"k": []byte(secret)},
		"slice_of_structs", []struct{ B []byte }{{[]byte("x")}, {[]byte(secret)}},
		"map_any", map[string]any{"b": []byte(secret)},
		"raw", json.RawMessage(`{"t":"` + secret + `"}`),
		"struct_raw", struct{ R json.RawMessage }{json.RawMessage(`"` + secret + `"`)},
		"nested_pointer", struct{ P **inner }{&p},
		"unexported_bytes", unexported{[]byte(secret)},
		"nested_stringer", struct{ H hider }{hider{secret}},
		"nested_marshaler", struct{ M marshalsSecret }{marshalsSecret{secret}},
		"nested_error", struct{ E error }{fmt.Errorf("wrapped: %w", errors.New(secret))},
		"array", [len(secret)]byte([]byte(secret)),
		"valuer_group", groupValuer{[]byte(secret)},
		slog.Group("group", "struct_bytes", struct{ B []byte }{[]byte(secret)}),
	}
	var decimal []string
	for _, c := range []byte(secret)[:8] {
		decimal = append(decimal, fmt.Sprint(c))
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	leaks := []string{secret, b64[:len(b64)-4], strings.Join(decimal, " "), strings.Join(decimal, ",")}
	for name, handler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < len(args); {
				var buf bytes.Buffer
				log := RedactingLogger(slog.New(handler(&buf)), redact)
				var one []any
				if a, ok := args[i].(slog.Attr); ok {
					one, i = []any{a}, i+1
				} else {
					one, i = args[i:i+2], i+2
				}
				log.Warn("nested", one...)
				for _, leak := range leaks {
					if strings.Contains(buf.String(), leak) {
						t.Errorf("%v logged through RedactingLogger: %s; want no %q in it", one[0], buf.String(), leak)
					}
				}
				if !strings.Contains(buf.String(), "REDACTED") {
					t.Errorf("%v logged through RedactingLogger: %s; want REDACTED where the secret was", one[0], buf.String())
				}
			}
		})
	}
	// What holds no secret keeps its shape: the JSON handler writes a
	// struct as an object.
	var buf bytes.Buffer
	RedactingLogger(slog.New(slog.NewJSONHandler(&buf, nil)), redact).Warn("clean", "struct", struct{ B []byte }{[]byte("x")})
	if !strings.Contains(buf.String(), `"struct":{"B":"eA=="}`) {
		t.Errorf("a struct without a secret logged through RedactingLogger: %s; want it written as the handler writes it", buf.String())
	}
}

// cyclic refers to itself.
type cyclic struct {
	Next   *cyclic
	Others []any
	Secret []byte
}

// TestRedactingLoggerReadsACyclicValueOnce: the walk that reads a logged
// value whole (valueText) follows pointers, slices and maps; one that
// refers to itself is read once, and the line is written, the secret in
// it redacted.
func TestRedactingLoggerReadsACyclicValueOnce(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-token-0123456789"
	c := &cyclic{Secret: []byte(secret)}
	c.Next = c
	c.Others = []any{c, nil}
	c.Others[1] = c.Others
	m := map[string]any{}
	m["self"] = m
	var buf bytes.Buffer
	RedactingLogger(slog.New(slog.NewJSONHandler(&buf, nil)), func(s string) string {
		return strings.ReplaceAll(s, secret, "REDACTED")
	}).Warn("cyclic", "value", c, "map", m)
	if out := buf.String(); strings.Contains(out, secret) || !strings.Contains(out, "Secret:REDACTED") {
		t.Errorf("a cyclic value logged through RedactingLogger: %s; want it written once, the secret REDACTED", out)
	}
}
