package main

import (
	"errors"
	"strings"
	"testing"
)

// TestAShortDSNPasswordAfterItsKeywordIsRedactedThoughEscapedOrOnTheNextLine:
// a short DSN password (under minRedactedPassword) is taken out only where
// a line quotes it, after password, passwd or pwd among others; the
// keyword's separator was looked for as written only, so a message that
// quoted a driver's or a proxy's text escaped (Go's %q: "password:\n pw",
// "password =\tpw"; a URL's: "password%3Dpw"), or that put the password
// on the line after its keyword, kept it in clear. Each is redacted now.
// And MySQL's own refusal, "(using password: YES)", is left as it is for a
// password YES: redacted, it was mangled and told the password.
func TestAShortDSNPasswordAfterItsKeywordIsRedactedThoughEscapedOrOnTheNextLine(t *testing.T) {
	t.Parallel()
	const dsn = "app:k9z@tcp(db:3306)/tributary"
	for _, line := range []string{
		"proxy: password:\nk9z",
		"proxy: password:\r\n  k9z",
		`proxy said "password:\nk9z"`,
		`proxy said "password =\tk9z"`,
		`proxy said "password:\r\n k9z"`,
		"GET /auth?user=app&password%3Dk9z",
		"sent pwd%3A%20k9z",
		"sent password%3D%22k9z%22",
	} {
		got := withoutDSNPasswords(errors.New(line), dsn).Error()
		if strings.Contains(got, "k9z") || !strings.Contains(got, redactedPassword) {
			t.Errorf("%q: got %q; want the password redacted", line, got)
		}
	}
	const refusal = "Error 1045 (28000): Access denied for user 'app'@'10.0.0.7' (using password: YES)"
	if got := withoutDSNPasswords(errors.New(refusal), "app:YES@tcp(db:3306)/tributary").Error(); got != refusal {
		t.Errorf("MySQL's refusal with the password YES: got %q; want it as the server wrote it", got)
	}
}
