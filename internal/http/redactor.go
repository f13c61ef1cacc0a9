package http

// Redactor returns what this package does to each line it logs of what a
// client may have sent: every token of tokens in s, however it is spelt or
// percent-encoded, REDACTED, and every run of characters that shares 8 in
// a row with one, in any case (a token mistyped or cut short), as
// <invalid: N bytes>. The live feed, whose errors may quote a stream id or
// a type a subscription sent, logs through it too. With no tokens it
// returns s as it is.
func Redactor(tokens []Token) func(string) string {
	a := newAuthenticator(tokens)
	return a.redactLogged
}
