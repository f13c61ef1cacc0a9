package http_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// sharedPiece is the first 8 characters in a row (the near-token rule's
// piece) that s holds of secret, in any case, or "".
func sharedPiece(s, secret string) string {
	s, secret = strings.ToLower(s), strings.ToLower(secret)
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+8]) {
			return secret[i : i+8]
		}
	}
	return ""
}

// TestNoNearTokenReachesTheErrorLogInTheStoresError: the access line wrote
// a path segment that shares 8 characters in a row with a known token as
// <invalid: N bytes>, but the "request failed" line's error, which a store
// writes with the request's stream id ("read stream <id>: …", "append to
// <id>: …"), wrote a token shaped as a UUID and mistyped by one character
// as a stream id whole (35 of its 36 characters; a retest). The error is
// logged now with each run of characters that shares 8 in a row with a
// known token as <invalid: N bytes>, as the access line does. On both
// stores.
func TestNoNearTokenReachesTheErrorLogInTheStoresError(t *testing.T) {
	t.Parallel()
	const secret = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	for _, sent := range []string{
		"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4c", // its last character mistyped
		"6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4C", // so, in upper case: stores write ids lower-cased
		"6f1c2a3b-4d5e-4f60-8a7b-0c0d1e2f3a4b", // one in the middle mistyped
	} {
		t.Run(sent, func(t *testing.T) {
			t.Parallel()
			teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
				logs := &testlog.Buffer{}
				// Every request runs out of time before the database answers.
				srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{
					Tokens:         []esthttp.Token{{Name: "app", Role: esthttp.RoleWrite, Secret: secret}},
					Logger:         slog.New(slog.NewJSONHandler(logs, nil)),
					RequestTimeout: time.Nanosecond,
				}))
				t.Cleanup(srv.Close)
				sendForTheLog(srv.URL, secret, "/streams/"+sent)
				out := logs.String()
				if !strings.Contains(out, `"msg":"request failed"`) || !strings.Contains(out, "<invalid: 36 bytes>") {
					t.Fatalf("no error line for the requests that ran out of time, with the stream id as <invalid: 36 bytes>:\n%s", out)
				}
				for _, line := range strings.Split(out, "\n") {
					if p := sharedPiece(line, secret); p != "" {
						t.Errorf("the log holds %q of the token: %s", p, line)
					}
				}
			})
		})
	}
}

// TestRedactorTakesANearTokenOutOfWhatTheFeedLogs: the live feed logs a
// store's errors through Redactor, which replaced a known token only: a
// token mistyped where a stream id goes was logged almost whole. A run of
// characters that shares 8 in a row with a known token is <invalid: N
// bytes> now, what surrounds it kept; a text that shares 7 is as it was.
func TestRedactorTakesANearTokenOutOfWhatTheFeedLogs(t *testing.T) {
	t.Parallel()
	const secret = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	redact := esthttp.Redactor([]esthttp.Token{
		{Name: "app", Role: esthttp.RoleRead, Secret: secret},
		{Name: "svc", Role: esthttp.RoleWrite, Secret: "writetoken-abcdefghij0123456789"},
	})
	for _, tc := range []struct{ in, want string }{
		{"read stream 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4c: connection reset",
			"read stream <invalid: 36 bytes>: connection reset"},
		{`type "writetoken-abcdefghij012345" (a filter): no index`,
			`type "<invalid: 27 bytes>" (a filter): no index`},
		{"read stream " + secret + ": connection reset", "read stream REDACTED: connection reset"},
		{"stream 6f1c2a3-ffff: shares 7", "stream 6f1c2a3-ffff: shares 7"},
		{"the database is unreachable: dial tcp 127.0.0.1:3306: connection refused",
			"the database is unreachable: dial tcp 127.0.0.1:3306: connection refused"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("Redactor(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
