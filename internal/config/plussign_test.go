package config

import (
	"strings"
	"testing"
)

// TestANumberWithAPlusSignIsRefused: TRIBUTARY_MAX_BATCH=+5 was taken as
// 5, though the README says a number is decimal digits and -5 or 0x5 stop
// the start: a + is refused as they are, naming the variable.
func TestANumberWithAPlusSignIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"TRIBUTARY_MAX_BATCH", "+5"},
		{"TRIBUTARY_MAX_BODY_BYTES", "+1048576"},
		{"TRIBUTARY_MAX_SUBSCRIBERS", "+100"},
		{"TRIBUTARY_MAX_BATCH", "+99999999999999999999"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tc.name+" must be a whole number in decimal") {
				t.Fatalf("%s=%s: expected it refused as not a decimal number, naming the variable, got %v", tc.name, tc.value, err)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Errorf("%s=%s: the error quotes the value: %v", tc.name, tc.value, err)
			}
		})
	}
}
