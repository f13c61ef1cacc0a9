package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
)

// TestATokenGivenAsTheTokensFileIsNotShown: TRIBUTARY_API_TOKENS_FILE set
// to a token (meant for TRIBUTARY_API_TOKENS) made the error quote it, as
// the name of a file that does not exist.
func TestATokenGivenAsTheTokensFileIsNotShown(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.APITokensFile = "app:write:s3cret0123456789abcdef"
	_, err := loadTokens(context.Background(), cfg, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS_FILE") {
		t.Fatalf("a token set as TRIBUTARY_API_TOKENS_FILE: expected an error naming the variable, not quoting the value; got %v", err)
	}
}

// TestTokensSetWithNoEntryStopTheStartUp: TRIBUTARY_API_TOKENS set to
// something that holds no entry (every entry commented out, only commas)
// left access control off, the server open to anyone, with only a warning;
// a tokens file with no entry was already refused. Empty, it stays off.
func TestTokensSetWithNoEntryStopTheStartUp(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"#app:write:0123456789abcdef0123", ",", " , \n", "# tokens go here"} {
		cfg := config.Defaults()
		cfg.APITokens = value
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS") || strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("TRIBUTARY_API_TOKENS=%q: expected an error naming the variable, quoting no token; got %d tokens, %v", value, len(tokens), err)
		}
	}
	cfg := config.Defaults()
	if tokens, err := loadTokens(context.Background(), cfg, nil); err != nil || len(tokens) != 0 {
		t.Errorf("TRIBUTARY_API_TOKENS empty: expected no tokens and no error (access control off); got %d tokens, %v", len(tokens), err)
	}
}

// TestAShortTokenStopsTheStartUp: a token of one character was taken, and
// anyone could guess it in a few requests (nothing slows a client that
// tries tokens). A token shorter than minTokenLength is refused, from the
// variable and from the file, naming its place, not quoting it.
func TestAShortTokenStopsTheStartUp(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("app:write:0123456789abcdef0123\ndashboard:read:hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ env, file, place string }{
		{env: "app:write:x", place: "TRIBUTARY_API_TOKENS entry 1 "},
		{env: "app:write:0123456789abcdef0123,dashboard:read:hunter2", place: "TRIBUTARY_API_TOKENS entry 2 "},
		{env: "dashboard:read:" + strings.Repeat("h", minTokenLength-1), place: "TRIBUTARY_API_TOKENS entry 1 "},
		{file: file, place: "TRIBUTARY_API_TOKENS_FILE line 2 "},
	} {
		cfg := config.Defaults()
		cfg.APITokens, cfg.APITokensFile = c.env, c.file
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(minTokenLength)) || strings.Contains(err.Error(), "hunter2") ||
			strings.Contains(err.Error(), "hhh") || !strings.Contains(err.Error(), c.place) {
			t.Errorf("tokens %q (file %q): expected an error naming the token by its place and the least length, quoting no token; got %d tokens, %v",
				c.env, c.file, len(tokens), err)
		}
	}
	cfg := config.Defaults()
	cfg.APITokens = "dashboard:read:" + strings.Repeat("h", minTokenLength)
	if tokens, err := loadTokens(context.Background(), cfg, nil); err != nil || len(tokens) != 1 {
		t.Errorf("a token of %d characters: expected it taken; got %d tokens, %v", minTokenLength, len(tokens), err)
	}
}

// TestATokenNoAuthorizationHeaderCanCarryStopsTheStartUp: a token that
// began with a space ("app:write: 3f9c…", a space after the colon) or held
// a control character was taken, and never matched a header: the server
// trims the header's token, and refuses control characters in headers, so
// its holder got 401 for a token the server had read as written. It is
// refused, naming its place, not quoting it.
func TestATokenNoAuthorizationHeaderCanCarryStopsTheStartUp(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123"
	for _, entries := range []string{
		"app:write: " + secret,
		"app:write:\t" + secret,
		"app:write:\u00a0" + secret,
		"app:write:" + secret[:10] + "\x00" + secret[10:],
		"app:write:" + secret + "\x7f",
	} {
		cfg := config.Defaults()
		cfg.APITokens = entries
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS entry 1 ") || strings.Contains(err.Error(), secret[:10]) {
			t.Errorf("TRIBUTARY_API_TOKENS=%q: expected an error naming the token by its place, quoting no token; got %d tokens, %v", entries, len(tokens), err)
		}
	}
}

// TestATokenRefusedAtStartUpIsNamedByItsPlace: an entry written
// token:role:name has a valid role, so it parses, with the token as its
// name and the name as its token; the refusal of a short token, or of one
// no header can carry, quoted its name, the token, into the start-up log.
// It names the token by its place instead.
func TestATokenRefusedAtStartUpIsNamedByItsPlace(t *testing.T) {
	t.Parallel()
	const secret = "3f9c0a7b1d2e4f60a1b2"
	for _, entries := range []string{
		"app:write:0123456789abcdef0123," + secret + ":write:orders-service",
		"app:write:0123456789abcdef0123," + secret + ":read: orders-service-reader",
	} {
		cfg := config.Defaults()
		cfg.APITokens = entries
		_, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS entry 2 ") {
			t.Errorf("TRIBUTARY_API_TOKENS=%q: expected an error naming token 2 by its place, not quoting its first field; got %v", entries, err)
		}
	}
}

// TestATokensFileWithAByteOrderMarkIsReadAsItsText: an editor that saves
// UTF-8 with a byte order mark put it before the first entry, whose holder
// was then named "\ufeffapp" in every log line (or, before a comment with
// colons, the start was refused as a wrong role). Found by a second
// black-box tester.
func TestATokensFileWithAByteOrderMarkIsReadAsItsText(t *testing.T) {
	t.Parallel()
	for _, content := range []string{
		"\ufeffapp:write:0123456789abcdef0123\n",
		"\ufeff# holders: app:write:…\napp:write:0123456789abcdef0123\n",
	} {
		path := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Defaults()
		cfg.APITokensFile = path
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err != nil || len(tokens) != 1 || tokens[0].Name != "app" {
			t.Errorf("a tokens file of %q: got %+v, %v; want one token of holder app", content, tokens, err)
		}
	}
}

// TestATokensFileNotInUTF8IsRefusedSayingSo: a tokens file saved as
// UTF-16 (Windows Notepad's "Unicode", with its byte order mark, or
// without one) was refused as "the role, its second field, must be read or
// write", which sent an operator to check entries that were right. It is
// refused saying the file must be UTF-8 text, quoting nothing of it.
func TestATokensFileNotInUTF8IsRefusedSayingSo(t *testing.T) {
	t.Parallel()
	const entry = "svc:write:abcdefghijklmnop1234\r\n"
	utf16 := func(bigEndian bool, bom bool) []byte {
		var b []byte
		if bom {
			b = []byte{0xff, 0xfe}
			if bigEndian {
				b = []byte{0xfe, 0xff}
			}
		}
		for _, c := range []byte(entry) {
			if bigEndian {
				b = append(b, 0, c)
			} else {
				b = append(b, c, 0)
			}
		}
		return b
	}
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"UTF-16, little-endian, with its byte order mark", utf16(false, true)},
		{"UTF-16, big-endian, with its byte order mark", utf16(true, true)},
		{"UTF-16 without a byte order mark", utf16(false, false)},
		{"a UTF-16 byte order mark alone", []byte{0xff, 0xfe}},
		{"UTF-8 with a NUL byte in it", []byte("svc:write:abcdefghijklmnop1234\x00\n")},
		{"Latin-1", []byte("caf\xe9:write:abcdefghijklmnop1234\n")},
	} {
		path := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(path, c.content, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Defaults()
		cfg.APITokensFile = path
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "UTF-8 text") || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS_FILE") ||
			strings.Contains(err.Error(), "abcdefghijklmnop") || strings.Contains(err.Error(), "svc") {
			t.Errorf("a tokens file in %s: expected an error naming TRIBUTARY_API_TOKENS_FILE and saying it must be UTF-8 text, quoting none of it; got %d tokens, %v",
				c.name, len(tokens), err)
		}
	}
}

// TestATokenHoldingWhiteSpaceStopsTheStartUp: an inline comment after an
// entry ("svc:write:Tok3n… # the billing job") became part of its token,
// spaces and # included: the holder's real token got 401, and the start
// said nothing. A bearer token holds no white space (RFC 6750's b64token),
// so a token with any is refused, naming its place and, where a # follows
// it, the comment; # starts a comment only at the beginning of an entry.
func TestATokenHoldingWhiteSpaceStopsTheStartUp(t *testing.T) {
	t.Parallel()
	const secret = "Tok3n-SECRET-abcdef123456"
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("# holders\nsvc:write:"+secret+" # comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ env, file, says, place string }{
		{env: "svc:write:" + secret + " # note", says: "comment", place: "TRIBUTARY_API_TOKENS entry 1 "},
		{env: "svc:write:" + secret + "\t#note", says: "comment", place: "TRIBUTARY_API_TOKENS entry 1 "},
		{file: file, says: "comment", place: "TRIBUTARY_API_TOKENS_FILE line 2 "},
		{env: "svc:write:Tok3n-SECRET abcdef123456", says: "white space", place: "TRIBUTARY_API_TOKENS entry 1 "},
		{env: "svc:write:Tok3n-SECRET\u00a0abcdef123456", says: "white space", place: "TRIBUTARY_API_TOKENS entry 1 "},
	} {
		cfg := config.Defaults()
		cfg.APITokens, cfg.APITokensFile = c.env, c.file
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), c.place) || !strings.Contains(err.Error(), c.says) ||
			strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "Tok3n") {
			t.Errorf("tokens %q (file %q): expected an error naming token 1 by its place and saying %q, quoting no token; got %d tokens, %v",
				c.env, c.file, c.says, len(tokens), err)
		}
	}
	cfg := config.Defaults()
	cfg.APITokens = "svc:write:" + secret + " , # a comment entry\n"
	if tokens, err := loadTokens(context.Background(), cfg, nil); err != nil || len(tokens) != 1 || tokens[0].Secret != secret {
		t.Errorf("a token, then a comment entry: expected the token taken; got %d tokens, %v", len(tokens), err)
	}
}

// TestABadTokenEntryIsNamedByItsLineOrItsEntry: a bad entry of the tokens
// file was named "token entry 4", a count of its comment lines but not its
// blank ones, which grew by one with an entry in TRIBUTARY_API_TOKENS too,
// and a short token "token 1 of the 1 given", another form: an operator with
// many entries could not find the one refused. An entry of the file is
// named by its line, one of the variable by its place in it, in every
// refusal, neither shown.
func TestABadTokenEntryIsNamedByItsLineOrItsEntry(t *testing.T) {
	t.Parallel()
	const secret = "abcdefghijklmnopqrstuvwxyz012345"
	file := func(text string) string {
		name := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	operators := file("# comment one\n# comment two\na:write:" + secret + "\n\nb:bad:" + secret + "9\n")
	for _, c := range []struct {
		name, env, file, want string
	}{
		{"a wrong role in the file", "", operators, "TRIBUTARY_API_TOKENS_FILE line 5: the role"},
		{"the same, an entry in the variable too", "c:read:" + secret + "x", operators, "TRIBUTARY_API_TOKENS_FILE line 5: the role"},
		{"a wrong role in the variable, after an empty entry", "a:write:" + secret + ",,b:bad:" + secret + "9", "", "TRIBUTARY_API_TOKENS entry 3: the role"},
		{"CRLF lines", "", file("# holders\r\n\r\na:write:" + secret + "\r\nb:read\r\n"), "TRIBUTARY_API_TOKENS_FILE line 4: want name:role:token"},
		{"a short token in the file", "", file("\n\n# x\na:write:" + secret + "\nb:read:short\n"), "the token of TRIBUTARY_API_TOKENS_FILE line 5 is shorter"},
		{"a name given twice, across the two", "a:write:" + secret + "x", file("# x\na:read:" + secret + "y\n"), "TRIBUTARY_API_TOKENS_FILE line 2: its name is TRIBUTARY_API_TOKENS entry 1's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.APITokens, cfg.APITokensFile = c.env, c.file
			_, err := loadTokens(context.Background(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), secret[:10]) {
				t.Errorf("expected an error saying %q, quoting no token; got %v", c.want, err)
			}
		})
	}
}
