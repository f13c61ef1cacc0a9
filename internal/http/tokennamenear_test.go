package http_test

import (
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestATokenHoldersNameThatSharesEightCharactersWithATokenIsRefused: a
// name that is, or holds, a token was refused, but one that holds most of
// it was not: a holder named with 37 of another's 40 characters had them
// printed on every access line, all but 3 hex characters of that token
// (from a black-box tester). As the error text hides any word that shares 8
// characters in a row, in any case, with a token, such a name is refused,
// its own token's or another's, by ParseTokens and by ParseTokenSources
// (the start and a reload of the tokens file), the error quoting neither
// the name nor the token; one sharing 7 is taken.
func TestATokenHoldersNameThatSharesEightCharactersWithATokenIsRefused(t *testing.T) {
	t.Parallel()
	const secret = "3f9a1c07b2e84d6f9a0c5e1b7d2f4a8c6e0b9d13" // 40 hex characters
	const other = "qqqqqqqqqqqqqqqqqqqq"
	for _, tc := range []struct{ what, tokens string }{
		{"37 of another's 40 characters", "app:write:" + secret + ",dash-" + secret[:37] + ":read:" + other},
		{"8 of another's, in the middle of the name", "app:write:" + secret + ",ci-" + secret[10:18] + "-x:read:" + other},
		{"8 of its own, in another case", "ci-" + strings.ToUpper(secret[20:28]) + ":read:" + secret},
		{"the name before the token's entry", "dash-" + secret[:37] + ":read:" + other + ",app:write:" + secret},
	} {
		for _, parse := range []struct {
			how string
			fn  func(string) error
		}{
			{"ParseTokens", func(s string) error { _, err := esthttp.ParseTokens(s); return err }},
			{"ParseTokenSources, a file", func(s string) error {
				_, _, err := esthttp.ParseTokenSources(esthttp.TokenSource{Name: "TRIBUTARY_API_TOKENS_FILE", Text: strings.ReplaceAll(s, ",", "\n"), Lines: true})
				return err
			}},
		} {
			err := parse.fn(tc.tokens)
			if err == nil {
				t.Errorf("%s, a name holding %s: accepted; want it refused", parse.how, tc.what)
				continue
			}
			msg := strings.ToLower(err.Error())
			for i := 0; i+8 <= len(secret); i++ {
				if strings.Contains(msg, secret[i:i+8]) {
					t.Errorf("%s, a name holding %s: the refusal %q quotes 8 characters of the token", parse.how, tc.what, err)
					break
				}
			}
			if !strings.Contains(msg, "8 characters in a row") {
				t.Errorf("%s, a name holding %s: %q; want it to say the name shares 8 characters in a row with a token", parse.how, tc.what, err)
			}
		}
	}
	if _, err := esthttp.ParseTokens("app:write:" + secret + ",ci-" + secret[:7] + ":read:" + other); err != nil {
		t.Errorf("a name sharing 7 characters with a token: %v; want it taken", err)
	}
}
