package config

import (
	"strings"
	"testing"
	"time"
)

// TestAReadHeaderTimeoutAboveTheReadTimeoutIsLowered: the README says
// TRIBUTARY_READ_TIMEOUT bounds the whole request, headers included, but
// Go's server bounds the headers by the header timeout alone: 8760h of
// header timeout beside 60s of read timeout let a client take a year over
// its headers, without a word at start-up. It is lowered to the read
// timeout, and the warning says so; one at or below it is untouched.
func TestAReadHeaderTimeoutAboveTheReadTimeoutIsLowered(t *testing.T) {
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_READ_HEADER_TIMEOUT", "8760h")
	c, err := Load()
	if err != nil {
		t.Fatalf("TRIBUTARY_READ_HEADER_TIMEOUT=8760h: expected it taken, got %v", err)
	}
	if c.ReadHeaderTimeout != 60*time.Second {
		t.Errorf("TRIBUTARY_READ_HEADER_TIMEOUT=8760h beside a 60s read timeout: expected it lowered to 1m0s, got %s", c.ReadHeaderTimeout)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "TRIBUTARY_READ_HEADER_TIMEOUT (8760h0m0s) is above TRIBUTARY_READ_TIMEOUT (1m0s): it is lowered to 1m0s") {
		t.Errorf("TRIBUTARY_READ_HEADER_TIMEOUT=8760h: expected a warning that it is lowered to the read timeout, got %q", w)
	}

	// The default header timeout (10s) above a read timeout given lower
	// only tightens: lowered without a word.
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_READ_TIMEOUT", "5s")
	c, err = Load()
	if err != nil {
		t.Fatalf("TRIBUTARY_READ_TIMEOUT=5s: expected it taken, got %v", err)
	}
	if c.ReadHeaderTimeout != 5*time.Second || len(c.Warnings()) != 0 {
		t.Errorf("TRIBUTARY_READ_TIMEOUT=5s: expected the default header timeout lowered to 5s without a warning, got %s and %q", c.ReadHeaderTimeout, c.Warnings())
	}

	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_READ_HEADER_TIMEOUT", "60s")
	c, err = Load()
	if err != nil || c.ReadHeaderTimeout != 60*time.Second || len(c.Warnings()) != 0 {
		t.Errorf("TRIBUTARY_READ_HEADER_TIMEOUT=60s, the read timeout: expected it kept without a warning, got %s, %q, %v", c.ReadHeaderTimeout, c.Warnings(), err)
	}
}
