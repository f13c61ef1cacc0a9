package eventstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxNameLength is the longest stream type or event type accepted.
const MaxNameLength = 128

// ValidateName checks a stream type or event type: 1–128 characters, an ASCII
// letter first, then ASCII letters, digits, '_', '.', '-' or ':'.
func ValidateName(field, s string) error {
	if s == "" {
		return Invalid(field, "must not be empty")
	}
	// Counted in characters, as the bound is said; a name that passes the
	// grammar below is ASCII, so its bytes are as many and fit the
	// VARCHAR(128) columns whatever their charset.
	if n := utf8.RuneCountInString(s); n > MaxNameLength {
		return Invalid(field, "must be at most %d characters, got %d", MaxNameLength, n)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return Invalid(field, "must start with a letter (A-Z, a-z), got %q", s)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-' && c != ':' {
			return Invalid(field, "may hold only ASCII letters (A-Z, a-z), digits and _ . - :, got %q", s)
		}
	}
	return nil
}

// ParseUUID parses the canonical textual form of a UUID
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits in either case). Other forms
// that uuid.Parse accepts (braces, urn:uuid:, no dashes) are refused so that a
// stream has exactly one spelling apart from case.
func ParseUUID(field, s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, Invalid(field, "must be a UUID like 0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10, got %q", truncate(s))
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, Invalid(field, "must be a UUID like 0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10, got %q", truncate(s))
	}
	return id, nil
}

// ValidateData checks an event's data: any JSON value, in valid UTF-8.
func ValidateData(field string, data []byte) error {
	if len(data) == 0 {
		return Invalid(field, "is required (any JSON value, e.g. {} or null)")
	}
	if !utf8.Valid(data) || !json.Valid(data) {
		return Invalid(field, "must be valid JSON in UTF-8")
	}
	return nil
}

// ValidateMetadata checks an event's metadata: absent or a JSON object.
func ValidateMetadata(field string, md []byte) error {
	if md == nil {
		return nil
	}
	if !utf8.Valid(md) || !json.Valid(md) {
		return Invalid(field, "must be valid JSON in UTF-8")
	}
	if t := bytes.TrimLeft(md, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Invalid(field, "must be a JSON object")
	}
	return nil
}

// Validate checks everything about an append that does not depend on the
// stream's state. It returns a *ValidationError.
func (r AppendRequest) Validate() error {
	if r.StreamID == uuid.Nil {
		return Invalid("stream_id", "must not be the nil UUID")
	}
	if r.StreamType != "" {
		if err := ValidateName("stream_type", r.StreamType); err != nil {
			return err
		}
	}
	if len(r.Events) == 0 {
		return Invalid("events", "must hold at least one event")
	}
	seen := make(map[uuid.UUID]int, len(r.Events))
	for i, e := range r.Events {
		// Each check names its field once it fails (atEvent): built for
		// every event, the three names cost three allocations an event on
		// every append.
		if err := ValidateName("type", e.Type); err != nil {
			return atEvent(err, "type", i)
		}
		if err := ValidateData("data", e.Data); err != nil {
			return atEvent(err, "data", i)
		}
		if err := ValidateMetadata("metadata", e.Metadata); err != nil {
			return atEvent(err, "metadata", i)
		}
		if e.ID == uuid.Nil {
			continue
		}
		if j, dup := seen[e.ID]; dup {
			return Invalid(field("id", i), "repeats the id of events[%d] (%s)", j, e.ID)
		}
		seen[e.ID] = i
	}
	return nil
}

// atEvent returns err, a check's *ValidationError of field name, as of
// the field name of events[i].
func atEvent(err error, name string, i int) error {
	if ve, ok := err.(*ValidationError); ok {
		return &ValidationError{Field: field(name, i), Reason: ve.Reason}
	}
	return err
}

func field(name string, i int) string {
	return "events[" + strconv.Itoa(i) + "]." + name
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
