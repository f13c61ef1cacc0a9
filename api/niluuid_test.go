package api_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/tributary-dev/tributary/api"
)

// TestTheNilUUIDIsRefusedByTheSchemasAsByTheServer: the server answers 400
// "must not be the nil UUID" to it as a stream id and as an event id, but
// the schemas of the stream_id parameter and of a new event's id took it,
// and the Uuid schema of what the server answers said nothing of it: a
// client generated from the contract sent it and met a 400 the contract
// did not foretell. Each refuses it, and still takes a UUID in either case.
func TestTheNilUUIDIsRefusedByTheSchemasAsByTheServer(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	schemas := map[string]*openapi3.Schema{
		"parameter StreamId":      doc.Components.Parameters["StreamId"].Value.Schema.Value,
		"schema NewEvent, its id": doc.Components.Schemas["NewEvent"].Value.Properties["id"].Value,
		"schema Uuid":             doc.Components.Schemas["Uuid"].Value,
	}
	for name, s := range schemas {
		if err := s.VisitJSON("00000000-0000-0000-0000-000000000000"); err == nil {
			t.Errorf("%s: expected the nil UUID refused, as the server refuses it with 400, got it accepted", name)
		}
		if err := s.VisitJSON("0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10"); err != nil {
			t.Errorf("%s: expected a UUID accepted, got %v", name, err)
		}
	}
	for name, s := range schemas {
		if name == "schema Uuid" {
			continue // what the server answers is lower-case
		}
		if err := s.VisitJSON("0190F4B2-7A3C-7D1E-8F00-2C5B1A9E4D10"); err != nil {
			t.Errorf("%s: expected an upper-case UUID accepted, got %v", name, err)
		}
	}
}
