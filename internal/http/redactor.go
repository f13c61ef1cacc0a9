package http

// Redactor returns what this package does to each line it logs of what a
// client may have sent: every token of tokens in s, however it is spelt or
// percent-encoded, REDACTED. The live feed, whose errors may quote a stream
// id or a type a subscription sent, logs through it too. With no tokens it
// returns s as it is.
func Redactor(tokens []Token) func(string) string {
	a := newAuthenticator(tokens)
	return func(s string) string { return a.redactEncoded(s, asDecoded) }
}
