package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
)

// TestATokensFileIsReadByItsLinesWhateverEndsThem: a tokens file saved
// with carriage returns alone ending its lines (classic Mac OS, some
// generators) was read as one line: its first entry's token ran on into
// the next entries, refused as "holds a control character", which sent
// an operator to an entry that was right, on a line the file does not
// have. A line ends at "\n", "\r\n" or "\r", as an entry of
// TRIBUTARY_API_TOKENS does; a refused entry is named by that line, its
// token never shown. A byte order mark, spaces and tabs around an entry,
// and blank lines do not matter either.
func TestATokensFileIsReadByItsLinesWhateverEndsThem(t *testing.T) {
	t.Parallel()
	const s1, s2, s3 = "first-token-0123456789", "second-token-0123456789", "third-token-0123456789"
	file := func(text string) string {
		name := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	for _, c := range []struct{ name, text string }{
		{"carriage returns", "# holders\ra:write:" + s1 + "\rb:read:" + s2 + "\r\rc:read:" + s3 + "\r"},
		{"mixed", "\ufeff# holders\r\na:write:" + s1 + "\rb:read:" + s2 + "\nc:read:" + s3},
		{"spaces and tabs", "  a:write:" + s1 + "   \n\tb:read:" + s2 + "\t\r\n \r c:read:" + s3 + " \r"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.APITokensFile = file(c.text)
			tokens, err := loadTokens(context.Background(), cfg, nil)
			if err != nil || len(tokens) != 3 || tokens[0].Secret != s1 || tokens[1].Secret != s2 || tokens[2].Secret != s3 ||
				tokens[0].Name != "a" || tokens[2].Name != "c" {
				t.Errorf("a tokens file of %q: got %d tokens, %v; want a, b and c with their tokens", c.text, len(tokens), err)
			}
		})
	}
	for _, c := range []struct{ name, text, want string }{
		{"a bad role after carriage returns", "# holders\r\ra:write:" + s1 + "\rb:bad:" + s2 + "\r", "TRIBUTARY_API_TOKENS_FILE line 4: the role"},
		{"a short token after mixed endings", "a:write:" + s1 + "\r\n\rb:read:short\n", "the token of TRIBUTARY_API_TOKENS_FILE line 3 is shorter"},
		{"white space inside a token", "a:write:" + s1 + "\rb:read:second-token 0123456789\r", "the token of TRIBUTARY_API_TOKENS_FILE line 2 holds white space"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.APITokensFile = file(c.text)
			_, err := loadTokens(context.Background(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) ||
				strings.Contains(err.Error(), "token-0123") || strings.Contains(err.Error(), "0123456789") {
				t.Errorf("a tokens file of %q: expected an error saying %q, quoting no token; got %v", c.text, c.want, err)
			}
		})
	}
}
