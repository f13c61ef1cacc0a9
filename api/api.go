// Package api embeds the HTTP contract, openapi.yaml, so the binary can serve
// it and tests can hold responses to it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document describing Tributary's HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
