package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// appendRequest is the body of POST /streams/{id}/events.
type appendRequest struct {
	StreamType string         `json:"stream_type"`
	Events     []newEventJSON `json:"events"`
}

type newEventJSON struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

// validate checks the request's shape and limits and converts it.
func (req appendRequest) validate(streamID uuid.UUID, expected eventstore.ExpectedVersion, maxBatch, maxEventBytes int) (eventstore.AppendRequest, error) {
	if len(req.Events) == 0 {
		return eventstore.AppendRequest{}, badRequest("events must hold at least one event")
	}
	if len(req.Events) > maxBatch {
		return eventstore.AppendRequest{}, &detailError{kind: errTooLarge,
			detail: fmt.Sprintf("the batch holds %d events; at most %d are allowed (TRIBUTARY_MAX_BATCH)", len(req.Events), maxBatch)}
	}
	out := eventstore.AppendRequest{StreamID: streamID, StreamType: req.StreamType, Expected: expected,
		Events: make([]eventstore.NewEvent, len(req.Events))}
	for i, e := range req.Events {
		if n := len(e.Data) + len(e.Metadata); n > maxEventBytes {
			return eventstore.AppendRequest{}, &detailError{kind: errTooLarge,
				detail: fmt.Sprintf("events[%d] holds %d bytes of data and metadata; at most %d are allowed (TRIBUTARY_MAX_EVENT_BYTES)", i, n, maxEventBytes)}
		}
		ne := eventstore.NewEvent{Type: e.Type, Data: e.Data, Metadata: e.Metadata}
		if e.ID != "" {
			field := "events[" + strconv.Itoa(i) + "].id"
			id, err := eventstore.ParseUUID(field, e.ID)
			if err != nil {
				return eventstore.AppendRequest{}, err
			}
			if id == uuid.Nil {
				return eventstore.AppendRequest{}, eventstore.Invalid(field, "must not be the nil UUID; leave id out to have one made")
			}
			ne.ID = id
		}
		if bytes.Equal(ne.Metadata, []byte("null")) {
			ne.Metadata = nil // null metadata is no metadata
		}
		out.Events[i] = ne
	}
	return out, out.Validate()
}

func (s *Server) appendEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := streamID(r)
	if err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	expected, err := expectedVersion(r.Header)
	if err != nil {
		return err
	}
	var body appendRequest
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &body); err != nil {
		return err
	}
	req, err := body.validate(id, expected, s.opts.MaxBatch, s.opts.MaxEventBytes)
	if err != nil {
		return err
	}
	res, err := s.store.Append(r.Context(), req)
	if err != nil {
		return err
	}
	out := appendResponse{StreamID: res.StreamID, StreamType: res.StreamType, Version: res.Version,
		Events: make([]appendedEventOut, len(res.Events))}
	for i, e := range res.Events {
		out.Events[i] = appendedEventOut{e.ID, e.Version, e.Position, timestamp(e.RecordedAt)}
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	w.Header().Set("ETag", etag(res.Version))
	w.Header().Set("Location", fmt.Sprintf("/streams/%s/events/%d", res.StreamID, res.Events[0].Version))
	return writeJSON(w, status, out)
}

// decodeJSON decodes one JSON object of at most max bytes from the body into
// v, refusing unknown fields and anything after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, max)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if de := decodeError(err, max); errors.Is(de, errTooLarge) {
				return de
			}
		}
		return badRequest("the body must hold one JSON object and nothing after it")
	}
	return nil
}

// decodeError explains a JSON decoding failure to the client.
func decodeError(err error, max int64) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return &detailError{kind: errRequestTimeout, detail: "the body did not arrive in time (TRIBUTARY_READ_TIMEOUT); nothing was written"}
	case errors.As(err, &tooBig):
		return &detailError{kind: errTooLarge, detail: fmt.Sprintf("the body is larger than %d bytes (TRIBUTARY_MAX_BODY_BYTES)", max)}
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body ends in the middle of its JSON")
	case errors.As(err, &syntax):
		return badRequest("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("the body must be a JSON object, not %s", typ.Value)
		}
		return badRequest("field %s must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	return badRequest("invalid body: %s", trimJSONPrefix(err.Error()))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

func trimJSONPrefix(s string) string {
	if len(s) > 6 && s[:6] == "json: " {
		return s[6:]
	}
	return s
}
