package http

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// timeFormat is RFC 3339 in UTC with microseconds, as the API promises.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// timestamp renders a time the API's way.
type timestamp time.Time

func (t timestamp) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, len(timeFormat)+2), '"')
	return append(appendTime(b, time.Time(t)), '"'), nil
}

// appendTime appends t in timeFormat, as t.UTC().AppendFormat(b, timeFormat)
// does, at a fraction of its cost: every event of every page has a time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeFormat)
	}
	hour, minute, sec := t.Clock()
	var d [len(timeFormat)]byte
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			d[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	d[4] = '-'
	put(5, 2, int(month))
	d[7] = '-'
	put(8, 2, day)
	d[10] = 'T'
	put(11, 2, hour)
	d[13] = ':'
	put(14, 2, minute)
	d[16] = ':'
	put(17, 2, sec)
	d[19] = '.'
	put(20, 6, t.Nanosecond()/1000)
	d[26] = 'Z'
	return append(b, d[:]...)
}

type streamJSON struct {
	StreamID   uuid.UUID `json:"stream_id"`
	StreamType string    `json:"stream_type"`
	Version    int64     `json:"version"`
	CreatedAt  timestamp `json:"created_at"`
	UpdatedAt  timestamp `json:"updated_at"`
}

func toStreamJSON(st eventstore.Stream) streamJSON {
	return streamJSON{st.ID, st.Type, st.Version, timestamp(st.CreatedAt), timestamp(st.UpdatedAt)}
}

type appendResponse struct {
	StreamID   uuid.UUID          `json:"stream_id"`
	StreamType string             `json:"stream_type"`
	Version    int64              `json:"version"`
	Events     []appendedEventOut `json:"events"`
}

type appendedEventOut struct {
	ID         uuid.UUID `json:"id"`
	Version    int64     `json:"version"`
	Position   int64     `json:"position"`
	RecordedAt timestamp `json:"recorded_at"`
}

// encodeAppendResult appends the answer to an append as JSON to b: what
// encoding/json writes for an appendResponse, without its reflection (about
// 2 µs an event, a tenth of a 100-event batch's server time).
func encodeAppendResult(b []byte, res eventstore.AppendResult) []byte {
	b = append(b, `{"stream_id":"`...)
	b = appendUUID(b, res.StreamID)
	b = append(b, `","stream_type":`...)
	b = appendString(b, res.StreamType)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, res.Version, 10)
	b = append(b, `,"events":[`...)
	for i, e := range res.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = appendUUID(b, e.ID)
		b = append(b, `","version":`...)
		b = strconv.AppendInt(b, e.Version, 10)
		b = append(b, `,"position":`...)
		b = strconv.AppendInt(b, e.Position, 10)
		b = append(b, `,"recorded_at":"`...)
		b = appendTime(b, e.RecordedAt)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

// encodeEvent appends e as JSON to b. It writes data and metadata exactly as
// stored: encoding/json would compact them and escape <, > and &, and the API
// returns them byte for byte.
func encodeEvent(b []byte, e eventstore.Event) []byte {
	b = append(b, `{"id":"`...)
	b = appendUUID(b, e.ID)
	b = append(b, `","stream_id":"`...)
	b = appendUUID(b, e.StreamID)
	b = append(b, `","stream_type":`...)
	b = appendString(b, e.StreamType)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, e.Position, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	if e.Metadata != nil {
		b = append(b, `,"metadata":`...)
		b = append(b, e.Metadata...)
	}
	b = append(b, `,"recorded_at":"`...)
	b = appendTime(b, e.RecordedAt)
	return append(b, `"}`...)
}

// appendUUID appends u in its canonical form, as uuid.UUID.String writes it,
// without allocating a string per id (two per event of every page).
func appendUUID(b []byte, u uuid.UUID) []byte {
	var t [36]byte
	hex.Encode(t[0:8], u[0:4])
	t[8] = '-'
	hex.Encode(t[9:13], u[4:6])
	t[13] = '-'
	hex.Encode(t[14:18], u[6:8])
	t[18] = '-'
	hex.Encode(t[19:23], u[8:10])
	t[23] = '-'
	hex.Encode(t[24:], u[10:])
	return append(b, t[:]...)
}

// appendString appends s as a JSON string. Names are validated to plain ASCII
// that needs no escaping; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
