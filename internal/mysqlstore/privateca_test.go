package mysqlstore

import (
	"strings"
	"testing"
)

// TestThePrivateCAAdviceFitsTheSystem: the warning of an unverified TLS
// mode said "set SSL_CERT_FILE to its PEM file" everywhere, but Go reads
// SSL_CERT_FILE only on Linux and the other Unixes: on macOS and Windows it
// verifies with the system's own store, and the variable changes nothing.
func TestThePrivateCAAdviceFitsTheSystem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		goos      string
		want, not []string
	}{
		{"linux", []string{"SSL_CERT_FILE"}, nil},
		{"freebsd", []string{"SSL_CERT_FILE"}, nil},
		{"darwin", []string{"keychain"}, []string{"set SSL_CERT_FILE"}},
		{"ios", []string{"keychain"}, []string{"set SSL_CERT_FILE"}},
		{"windows", []string{"certificate store"}, []string{"set SSL_CERT_FILE"}},
	} {
		got := PrivateCAAdvice(tc.goos)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("on %s: the advice for a private CA is %q; expected it to name %q", tc.goos, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("on %s: the advice for a private CA is %q; expected it not to say %q, which Go does not read there", tc.goos, got, n)
			}
		}
	}
}
