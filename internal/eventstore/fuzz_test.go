package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// nameGrammar is the documented name grammar (API.md): 1–128 characters, an
// ASCII letter first, then ASCII letters, digits, '_', '.', '-' or ':'. It is
// written out here independently of ValidateName, as the oracle.
func nameGrammar(s string) bool {
	if len(s) < 1 || len(s) > eventstore.MaxNameLength {
		return false
	}
	isLetter := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	if !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && !strings.ContainsRune("_.-:", rune(c)) {
			return false
		}
	}
	return true
}

// FuzzValidateName checks that ValidateName accepts exactly the documented
// grammar, and that a refusal is ErrInvalid naming the field.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"order", "Order", "a", "order.v2", "billing:invoice", "a_b-c", "A1", "z:9",
		strings.Repeat("a", 128), strings.Repeat("a", 129),
		"", "1order", "_x", ".x", ":x", "-x", "or der", "über", "a/b", "a\x00", "a\n", "a\t",
		"a'; DROP TABLE events; --", `" OR 1=1 --`, "a%", "order\u200b", "оrder", // Cyrillic о
		"ｏrder", "a\xff", "\xc3", "a" + strings.Repeat("é", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := eventstore.ValidateName("stream_type", s)
		want := nameGrammar(s)
		switch {
		case want && err != nil:
			t.Fatalf("ValidateName(%q) = %v; want it accepted: it fits the name grammar", s, err)
		case !want && err == nil:
			t.Fatalf("ValidateName(%q) accepted it; want ErrInvalid: it does not fit the name grammar", s)
		case !want && !errors.Is(err, eventstore.ErrInvalid):
			t.Fatalf("ValidateName(%q) = %v; want an error wrapping ErrInvalid", s, err)
		case !want && !strings.Contains(err.Error(), "stream_type"):
			t.Fatalf("ValidateName(%q) = %q; want the message to name the field stream_type", s, err)
		}
	})
}

// canonicalUUID reports whether s is the canonical 36-character textual form
// of a UUID, hex digits in either case: the oracle for ParseUUID.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// FuzzParseUUID checks that ParseUUID accepts exactly the canonical form, in
// any case, and returns the same UUID: its lower-case rendering is the input
// lower-cased, and parsing that again gives the same value.
func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{
		"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10", "0190F4B2-7A3C-7D1E-8F00-2C5B1A9E4D10",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff", "FfFfFfFf-fFfF-FfFf-fFfF-fFfFfFfFfFfF",
		"", "x", "{0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10}", "0190f4b27a3c7d1e8f002c5b1a9e4d10",
		"urn:uuid:0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10", "0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d1g",
		"0190f4b2x7a3c-7d1e-8f00-2c5b1a9e4d10", "0190f4b2-7a3c-7d1e-8f002c5b1a9e4d10-",
		"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d1\x00", " 0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d1",
		"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d１", "+190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := eventstore.ParseUUID("stream_id", s)
		if !canonicalUUID(s) {
			if err == nil {
				t.Fatalf("ParseUUID(%q) = %s; want ErrInvalid: it is not the canonical 36-character form", s, id)
			}
			if !errors.Is(err, eventstore.ErrInvalid) {
				t.Fatalf("ParseUUID(%q) = %v; want an error wrapping ErrInvalid", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseUUID(%q) = %v; want it accepted: it is a canonical UUID", s, err)
		}
		if got, want := id.String(), strings.ToLower(s); got != want {
			t.Fatalf("ParseUUID(%q) = %s; want %s (the input lower-cased)", s, got, want)
		}
		again, err := eventstore.ParseUUID("stream_id", id.String())
		if err != nil || again != id {
			t.Fatalf("ParseUUID(%q) = %s, %v; want the same UUID back, %s", id.String(), again, err, id)
		}
	})
}
