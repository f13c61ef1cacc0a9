// Package apibody holds the JSON bodies of Tributary's HTTP API (api/openapi.yaml)
// as a client writes and reads them, for tests that decode the service's
// answers strictly (with DisallowUnknownFields), so that a body that grows
// or renames a member is noticed.
package apibody

import "encoding/json"

type (
	// NewEvent is one event of an append request.
	NewEvent struct {
		ID       string `json:"id,omitempty"`
		Type     string `json:"type"`
		Data     any    `json:"data"`
		Metadata any    `json:"metadata,omitempty"`
	}
	// AppendBody is the body of POST /streams/{id}/events.
	AppendBody struct {
		StreamType string     `json:"stream_type,omitempty"`
		Events     []NewEvent `json:"events"`
	}
	// AppendResult is the answer to an append (201, or 200 for a retry).
	AppendResult struct {
		StreamID   string          `json:"stream_id"`
		StreamType string          `json:"stream_type"`
		Version    int64           `json:"version"`
		Events     []AppendedEvent `json:"events"`
	}
	// AppendedEvent is one event of an AppendResult.
	AppendedEvent struct {
		ID         string `json:"id"`
		Version    int64  `json:"version"`
		Position   int64  `json:"position"`
		RecordedAt string `json:"recorded_at"`
	}
	// Event is a stored event, as every read and subscription returns it.
	Event struct {
		ID         string          `json:"id"`
		StreamID   string          `json:"stream_id"`
		StreamType string          `json:"stream_type"`
		Version    int64           `json:"version"`
		Position   int64           `json:"position"`
		Type       string          `json:"type"`
		Data       json.RawMessage `json:"data"`
		Metadata   json.RawMessage `json:"metadata"`
		RecordedAt string          `json:"recorded_at"`
	}
	// StreamPage is the answer to GET /streams/{id}/events.
	StreamPage struct {
		StreamID   string  `json:"stream_id"`
		StreamType string  `json:"stream_type"`
		Version    int64   `json:"version"`
		Events     []Event `json:"events"`
	}
	// LogPage is the answer to GET /events.
	LogPage struct {
		Events []Event `json:"events"`
	}
	// StreamInfo is the answer to GET /streams/{id}, and one entry of a StreamList.
	StreamInfo struct {
		StreamID   string `json:"stream_id"`
		StreamType string `json:"stream_type"`
		Version    int64  `json:"version"`
		CreatedAt  string `json:"created_at"`
		UpdatedAt  string `json:"updated_at"`
	}
	// StreamList is the answer to GET /streams.
	StreamList struct {
		Streams []StreamInfo `json:"streams"`
	}
)
