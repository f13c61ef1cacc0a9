package config

import (
	"strings"
	"testing"
)

// TestAVariableWhoseNameHoldsItsValueIsRefusedWithoutIt: a setting
// written as YAML writes it, "TRIBUTARY_API_TOKENS: app:write:…", where
// NAME=value goes (a Compose list entry, a relaxed Kubernetes env name)
// is a variable whose name holds the value. It is refused as no setting,
// and the refusal, logged and written to stderr, quoted the name whole:
// the token or the DSN's password with it. The name is quoted up to its
// first character no variable's name has (a space, a colon, a quote),
// the rest not shown, and the setting meant is still named.
func TestAVariableWhoseNameHoldsItsValueIsRefusedWithoutIt(t *testing.T) {
	t.Parallel()
	const secret = "S3cretTok3n0123456"
	for _, c := range []struct{ kv, shown, meant string }{
		{"TRIBUTARY_API_TOKENS: app:write:" + secret + "=", "TRIBUTARY_API_TOKENS…", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_API_TOKENS:app:write:" + secret + "=", "TRIBUTARY_API_TOKENS…", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_API_TOKENS app:write:" + secret + "=x", "TRIBUTARY_API_TOKENS…", "TRIBUTARY_API_TOKENS"},
		{"TRIBUTARY_MYSQL_DSN: app:" + secret + "@tcp(db:3306)/x=", "TRIBUTARY_MYSQL_DSN…", "TRIBUTARY_MYSQL_DSN"},
		{`"TRIBUTARY_API_TOKENS":"app:write:` + secret + `"=`, "TRIBUTARY_API_TOKENS…", "TRIBUTARY_API_TOKENS"},
	} {
		err := nearMisses([]string{c.kv}, false)
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "app:") ||
			!strings.Contains(err.Error(), c.shown+" ") || !strings.Contains(err.Error(), "did you mean "+c.meant) {
			t.Errorf("the variable %q: expected a refusal naming it as %s and pointing at %s, quoting nothing after; got %v", c.kv, c.shown, c.meant, err)
		}
	}
	// A name of the characters names have is quoted whole, as before.
	err := nearMisses([]string{"TRIBUTARY_AUTH_TOKENS=x"}, false)
	if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_AUTH_TOKENS is not a setting") {
		t.Errorf("TRIBUTARY_AUTH_TOKENS: expected it named whole; got %v", err)
	}
}

// TestANameAfterAListDashIsStillPointedAtItsSetting: a Compose list entry
// copied into an env file ("- TRIBUTARY_API_TOKENS=…") is a variable
// named "- TRIBUTARY_API_TOKENS", which was refused as near
// TRIBUTARY_API_TOKENS until names holding their values were cut at their
// first character no name has: the dash, a name character, was then taken
// for the whole name, no setting resembled it, and the variable was
// ignored without a word (the service started without its tokens). What
// leads the name up to its first letter or digit is not the name.
func TestANameAfterAListDashIsStillPointedAtItsSetting(t *testing.T) {
	t.Parallel()
	const secret = "S3cretTok3n0123456"
	for _, c := range []struct{ kv, meant string }{
		{"- TRIBUTARY_API_TOKENS=app:write:" + secret, "TRIBUTARY_API_TOKENS"},
		{"-TRIBUTARY_MYSQL_DSN=app:" + secret + "@tcp(db:3306)/x", "TRIBUTARY_MYSQL_DSN"},
		{"- TRIBUTARY_API_TOKENS: app:write:" + secret + "=", "TRIBUTARY_API_TOKENS"},
		{`- "TRIBUTARY_API_TOKENS: app:write:` + secret + `"=`, "TRIBUTARY_API_TOKENS"},
	} {
		err := nearMisses([]string{c.kv}, false)
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "did you mean "+c.meant) {
			t.Errorf("the variable %q: expected a refusal pointing at %s, quoting no value; got %v", c.kv, c.meant, err)
		}
	}
}
