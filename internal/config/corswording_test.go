package config

import (
	"strings"
	"testing"
)

// TestACORSErrorReadsAsASentence: "entry 2 of 2 (not shown) * allows
// every origin" showed the entry it said it did not, and ran the place and
// the reason together. A * beside other entries is named as * (it holds no
// secret); any other entry is not shown, and its place and what it is not
// read as one sentence.
func TestACORSErrorReadsAsASentence(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"https://*.a.com,*", "TRIBUTARY_CORS_ORIGINS entry 2 of 2 is *, which allows every origin: give it alone"},
		{"*,https://a.com", "TRIBUTARY_CORS_ORIGINS entry 1 of 2 is *, which allows every origin: give it alone"},
		{"https://a.com,ftp://b.com", "TRIBUTARY_CORS_ORIGINS entry 2 of 2 (not shown) is not an origin: expected http:// or https://"},
	} {
		clearTributaryEnv(t)
		t.Setenv("TRIBUTARY_CORS_ORIGINS", tc.value)
		_, err := Load()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("TRIBUTARY_CORS_ORIGINS=%s: expected an error saying %q, got %v", tc.value, tc.want, err)
		}
	}
}
