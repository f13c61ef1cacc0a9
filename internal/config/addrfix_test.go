package config

import (
	"strings"
	"testing"
)

// TestAnAddressWithoutBracketsOrPortSaysHowToWriteIt: TRIBUTARY_ADDR=::1,
// ::1:8080 (an IPv6 address written without brackets), 0.0.0.0 or
// localhost (no port) were refused as "not host:port, host an IP address,
// …", which an operator who had given an IP address read as wrong; the
// error says now what to write. An IP address is shown (it holds no
// secret), a name is not: a token set here by mistake may look like one.
func TestAnAddressWithoutBracketsOrPortSaysHowToWriteIt(t *testing.T) {
	for _, tc := range []struct {
		variable, value string
		want            []string
	}{
		{"TRIBUTARY_ADDR", "::1", []string{"TRIBUTARY_ADDR has no port", "[::1]:8080"}},
		{"TRIBUTARY_ADDR", "[::1]", []string{"TRIBUTARY_ADDR has no port", "[::1]:8080"}},
		{"TRIBUTARY_ADDR", "::", []string{"TRIBUTARY_ADDR has no port", "[::]:8080"}},
		{"TRIBUTARY_ADDR", "0.0.0.0", []string{"TRIBUTARY_ADDR has no port", "0.0.0.0:8080"}},
		{"TRIBUTARY_ADDR", "::1:18080", []string{"TRIBUTARY_ADDR is an IPv6 address and a port without brackets", "[::1]:18080"}},
		{"TRIBUTARY_ADDR", ":::18080", []string{"without brackets", "[::]:18080"}},
		{"TRIBUTARY_ADDR", "fe80::1%eth0:8080", []string{"without brackets", "[fe80::1%eth0]:8080"}},
		// ::1:8080 is an IPv6 address itself: both readings are said.
		{"TRIBUTARY_ADDR", "::1:8080", []string{"without brackets", "[::1]:8080", "[::1:8080]:8080"}},
		{"TRIBUTARY_DEBUG_ADDR", "::1:6060", []string{"TRIBUTARY_DEBUG_ADDR is an IPv6 address and a port without brackets", "[::1]:6060"}},
		{"TRIBUTARY_DEBUG_ADDR", "127.0.0.1", []string{"TRIBUTARY_DEBUG_ADDR has no port", "127.0.0.1:6060"}},
		{"TRIBUTARY_ADDR", "localhost", []string{"TRIBUTARY_ADDR has no port", "host:8080"}},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			setTributaryEnv(t, []string{tc.variable + "=" + tc.value})
			_, err := Load()
			if err == nil {
				t.Fatalf("%s=%q: expected an error saying how to write it, got none", tc.variable, tc.value)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s=%q: expected an error containing %q, got %v", tc.variable, tc.value, w, err)
				}
			}
			if strings.Contains(err.Error(), "localhost") {
				t.Errorf("%s=%q: a host name is not shown (it may be a token), got %v", tc.variable, tc.value, err)
			}
		})
	}
	// Brackets, as README writes an IPv6 address, are taken.
	for _, ok := range []string{"[::1]:0", "[::]:0", "[fe80::1%eth0]:8080"} {
		setTributaryEnv(t, []string{"TRIBUTARY_ADDR=" + ok})
		if _, err := Load(); err != nil {
			t.Errorf("TRIBUTARY_ADDR=%q: expected no error, got %v", ok, err)
		}
	}
	// A token in the wrong variable is not shown, whatever its colons.
	for _, secret := range []string{"svc:write:0123456789abcdef0123", "0123456789abcdef0123"} {
		setTributaryEnv(t, []string{"TRIBUTARY_ADDR=" + secret})
		if _, err := Load(); err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("TRIBUTARY_ADDR=<a token>: expected an error that does not show it, got %v", err)
		}
	}
}

// TestAPortAloneSaysToPutAColonBeforeIt: TRIBUTARY_ADDR=8080 is told to
// be :8080, not taken for a host name without a port.
func TestAPortAloneSaysToPutAColonBeforeIt(t *testing.T) {
	setTributaryEnv(t, []string{"TRIBUTARY_ADDR=8080"})
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "a port alone: write :8080") {
		t.Fatalf("TRIBUTARY_ADDR=8080: expected an error saying to write :8080, got %v", err)
	}
}
