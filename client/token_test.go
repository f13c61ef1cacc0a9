package client

import (
	"strings"
	"testing"
)

// TestNewRefusesATokenNoHeaderCanCarry: a token read from a file or a
// secret keeps its last line break ("s3cret\n"), which no header field
// can carry: New took it, every call then failed with net/http's
// `invalid header field value for "Authorization"`, which does not say
// why, and a subscription took that for a network error and tried again
// for ever, every request refused the same before it was sent. New now
// refuses such a token, saying what is wrong with it, without quoting it.
func TestNewRefusesATokenNoHeaderCanCarry(t *testing.T) {
	t.Parallel()
	for name, token := range map[string]string{
		"a last line break":   "s3cret-token\n",
		"a last CR LF":        "s3cret-token\r\n",
		"a line break within": "s3cret\ntoken",
		"a NUL":               "s3cret\x00token",
		"a DEL":               "s3cret-token\x7f",
		"an escape":           "\x1b[31ms3cret-token",
	} {
		c, err := New("http://127.0.0.1:1", WithToken(token))
		switch {
		case err == nil:
			c.Close()
			t.Errorf("%s: New took the token; expected an error saying no header can carry it", name)
		case strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "token"):
			t.Errorf("%s: New: %v; expected an error about the token that does not quote it", name, err)
		}
	}
	// What a header carries is taken: the token's own characters, and
	// spaces and tabs, which the server compares as they are.
	for _, token := range []string{"abc-._~+/=", "two words", "tab\there", "ünïcode"} {
		c, err := New("http://127.0.0.1:1", WithToken(token))
		if err != nil {
			t.Errorf("New with token %q: %v; expected it taken", token, err)
			continue
		}
		c.Close()
	}
}

// TestNewRefusesAServerURLWithAQuery: a base URL with a query (a gateway's
// key, https://host/api?code=KEY) was taken, and its query dropped from
// every request, each of which writes its own: the gateway refused them
// all, and nothing said the client had left the query out. New now
// refuses it, without quoting the query, which may be a secret.
func TestNewRefusesAServerURLWithAQuery(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"http://example.com/api?code=s3cret", "http://example.com?code=s3cret", "http://example.com/?s3cret"} {
		c, err := New(base)
		switch {
		case err == nil:
			c.Close()
			t.Errorf("New(%q) took it; expected an error saying the query would be left out", base)
		case strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "query"):
			t.Errorf("New(%q): %v; expected an error about the query that does not quote it", base, err)
		}
	}
	// An empty query, or a fragment, which no request sends, is nothing left out.
	for _, base := range []string{"http://example.com/api?", "http://example.com/api#top", "http://example.com/"} {
		c, err := New(base)
		if err != nil {
			t.Errorf("New(%q): %v; expected it taken", base, err)
			continue
		}
		c.Close()
	}
}
