package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"order": true, "Order": true, "a": true, "order.v2": true, "billing:invoice": true, "a_b-c": true,
		strings.Repeat("a", 128): true,
		"":                       false, "1order": false, "_x": false, "or der": false, "über": false, "a/b": false,
		strings.Repeat("a", 129): false, "a\x00": false, "a'; DROP TABLE events; --": false,
	}
	for name, ok := range cases {
		err := eventstore.ValidateName("type", name)
		if ok && err != nil {
			t.Errorf("ValidateName(%q) = %v, want it accepted", name, err)
		}
		if !ok && !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalid", name, err)
		}
	}
}

// A name's length is said in characters, as the bound is: a name of 128
// two-byte characters is not too long (it is refused for its letters, not its length), and
// one of 129 is 129 characters, not 258.
// TestANameWithALetterOutsideASCIISaysTheLettersAreASCII: "ordér" was
// refused as holding something other than "letters", though é is one: the
// rule is ASCII letters, as the first character's refusal says.
func TestANameWithALetterOutsideASCIISaysTheLettersAreASCII(t *testing.T) {
	t.Parallel()
	err := eventstore.ValidateName("stream_type", "ordér")
	if err == nil || !strings.Contains(err.Error(), "ASCII letters (A-Z, a-z)") {
		t.Errorf("ValidateName(%q) = %v; want it refused saying the letters are ASCII (A-Z, a-z)", "ordér", err)
	}
}

func TestValidateNameCountsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	err := eventstore.ValidateName("stream_type", strings.Repeat("é", 128))
	if err == nil || strings.Contains(err.Error(), "at most") || !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("ValidateName(128 × é) = %v; want it refused for its letters, not its length", err)
	}
	err = eventstore.ValidateName("stream_type", strings.Repeat("é", 129))
	if err == nil || !strings.Contains(err.Error(), "at most 128 characters, got 129") {
		t.Errorf("ValidateName(129 × é) = %v; want \"at most 128 characters, got 129\"", err)
	}
}

func TestParseUUID(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10": "0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10",
		"0190F4B2-7A3C-7D1E-8F00-2C5B1A9E4D10": "0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", // v1
	}
	for in, want := range good {
		id, err := eventstore.ParseUUID("id", in)
		if err != nil || id.String() != want {
			t.Errorf("ParseUUID(%q) = %s, %v; want %s", in, id, err, want)
		}
	}
	for _, in := range []string{"", "x", "{0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10}", "0190f4b27a3c7d1e8f002c5b1a9e4d10",
		"urn:uuid:0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10", "0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d1g", "0190f4b2x7a3c-7d1e-8f00-2c5b1a9e4d10"} {
		if _, err := eventstore.ParseUUID("id", in); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("ParseUUID(%q) err = %v, want ErrInvalid", in, err)
		}
	}
}

func TestExpectedVersionAllows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		e       eventstore.ExpectedVersion
		current int64
		want    bool
	}{
		{eventstore.Any, 0, true}, {eventstore.Any, 9, true},
		{eventstore.NoStream, 0, true}, {eventstore.NoStream, 1, false},
		{eventstore.StreamExists, 0, false}, {eventstore.StreamExists, 3, true},
		{eventstore.Exactly(0), 0, true}, {eventstore.Exactly(3), 3, true}, {eventstore.Exactly(3), 4, false},
	}
	for _, tc := range cases {
		if got := tc.e.Allows(tc.current); got != tc.want {
			t.Errorf("%s allows %d = %v, want %v", tc.e, tc.current, got, tc.want)
		}
	}
}

func TestValidateMetadata(t *testing.T) {
	t.Parallel()
	for md, ok := range map[string]bool{`{}`: true, ` {"a":1}`: true, `[]`: false, `1`: false, `"x"`: false, `{`: false} {
		err := eventstore.ValidateMetadata("metadata", []byte(md))
		if (err == nil) != ok {
			t.Errorf("ValidateMetadata(%s) = %v, want ok=%v", md, err, ok)
		}
	}
	if err := eventstore.ValidateMetadata("metadata", nil); err != nil {
		t.Errorf("absent metadata: %v", err)
	}
}

// TestAnAppendsRefusalNamesTheEventAndFieldAtFault: Validate names the
// field of the event at fault (events[i].type), with its check's reason.
func TestAnAppendsRefusalNamesTheEventAndFieldAtFault(t *testing.T) {
	t.Parallel()
	good := eventstore.NewEvent{Type: "ItemAdded", Data: []byte(`{}`)}
	id := uuid.New()
	cases := []struct {
		name  string
		bad   eventstore.NewEvent
		field string
		says  string
	}{
		{"a type", eventstore.NewEvent{Type: "1x", Data: []byte(`{}`)}, "events[2].type", "must start with a letter"},
		{"no data", eventstore.NewEvent{Type: "ItemAdded"}, "events[2].data", "is required"},
		{"data not JSON", eventstore.NewEvent{Type: "ItemAdded", Data: []byte(`{`)}, "events[2].data", "must be valid JSON"},
		{"metadata not an object", eventstore.NewEvent{Type: "ItemAdded", Data: []byte(`{}`), Metadata: []byte(`[]`)},
			"events[2].metadata", "must be a JSON object"},
		{"a repeated id", eventstore.NewEvent{ID: id, Type: "ItemAdded", Data: []byte(`{}`)}, "events[2].id", "repeats the id of events[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			second := good
			second.ID = id
			req := eventstore.AppendRequest{StreamID: uuid.New(), Events: []eventstore.NewEvent{good, second, tc.bad}}
			err := req.Validate()
			var ve *eventstore.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Reason, tc.says) {
				t.Errorf("Validate() = %v; want a *ValidationError of %s saying %q", err, tc.field, tc.says)
			}
		})
	}
}

// TestValidatingAValidAppendAllocatesNothing: Validate runs on every
// append; a valid one, of events with ids or without, costs no allocation
// (each event's field names, built before its checks, cost three).
func TestValidatingAValidAppendAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool's items at random: json.Valid's scanners are allocated again")
	}
	events := []eventstore.NewEvent{
		{Type: "ItemAdded", Data: []byte(`{"sku":"A-1"}`)},
		{ID: uuid.New(), Type: "ItemAdded", Data: []byte(`{"sku":"A-2"}`), Metadata: []byte(`{"by":"me"}`)},
		{ID: uuid.New(), Type: "ItemRemoved", Data: []byte(`null`)},
	}
	req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "order", Events: events}
	if allocs := testing.AllocsPerRun(100, func() {
		if err := req.Validate(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("validating a valid append of %d events: %.0f allocations; want none", len(events), allocs)
	}
}
