package http

import (
	"strings"
	"testing"
)

// TestRedactEncodedFindsATokenHoweverManyTimesEncoded: what the log shows
// of a path, a method or an error holds no known token, percent-encoded
// up to maxUnescapes times in either case of hex; past that, nothing of it.
func TestRedactEncodedFindsATokenHoweverManyTimesEncoded(t *testing.T) {
	const secret = "tok3n-s3cr3t-value"
	a := newAuthenticator([]Token{{Name: "app", Role: RoleRead, Secret: secret}})
	encode := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + strings.ToLower(string("0123456789ABCDEF"[s[i]>>4])+string("0123456789ABCDEF"[s[i]&15])))
		}
		return b.String()
	}
	nested := func(n int) string { // the first byte encoded n times
		return "%" + strings.Repeat("25", n-1) + "74" + secret[1:]
	}
	identity := func(s string) string { return s }
	for _, tt := range []struct{ in, want string }{
		{"/streams/" + secret + "/x", "/streams/REDACTED/x"},
		{"/streams/" + encode(secret) + "/x%2F", "/streams/REDACTED/x/"},
		{"/s/" + nested(2), "/s/REDACTED"},
		{"/s/" + nested(maxUnescapes), "/s/REDACTED"},
		{"/s/" + nested(maxUnescapes+1), tooEncoded},
		{"/s/%zz%" + encode("a"), "/s/%zz%" + encode("a")}, // no token: as it came
		{"100% sure, %41", "100% sure, %41"},
		{"/s/" + strings.Repeat("%2525", 20), "/s/" + strings.Repeat("%2525", 20)},
	} {
		if got := a.redactEncoded(tt.in, identity); got != tt.want {
			t.Errorf("redactEncoded(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	var none *authenticator
	if got := none.redactEncoded("/s/"+secret, identity); got != "/s/"+secret {
		t.Errorf("without tokens: %q; want it as it came", got)
	}
}
