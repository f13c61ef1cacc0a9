package client

import (
	"strings"
	"testing"
)

// TestNewSaysWhichQueryItRefuses: New("http://host?x=1") said `the server
// URL "http://host" has a query`, quoting the URL with its query removed:
// the one part it refused was not shown. It shows the query's names, each
// value elided (a gateway's key may be one), and never a value.
func TestNewSaysWhichQueryItRefuses(t *testing.T) {
	t.Parallel()
	_, err := New("http://localhost:18642/?x=1&gateway_key=s3cr3t-value&s3cr3t-alone")
	if err == nil {
		t.Fatal("New with a query in the server URL: nil error; want it refused")
	}
	if msg := err.Error(); !strings.Contains(msg, "gateway_key=…") || !strings.Contains(msg, "x=…") || strings.Contains(msg, "s3cr3t") {
		t.Errorf("New with a query in the server URL: %q; want it to show the query's names, values elided, and no value", msg)
	}
}
