package config

import (
	"strings"
	"testing"
)

// TestTokensAndATokensFileBothSetAreRefused: TRIBUTARY_API_TOKENS and
// TRIBUTARY_API_TOKENS_FILE both set were combined, without a word: a
// token removed from the file (rotated out of a Secret) stayed in force
// through the variable. They are refused together, as the DSN and its
// file are; the variable set but empty (compose.yaml passes it so) gives
// none, and is no conflict.
func TestTokensAndATokensFileBothSetAreRefused(t *testing.T) {
	const secret = "s3cret0123456789abcdef"
	t.Setenv("TRIBUTARY_API_TOKENS", "app:write:"+secret)
	t.Setenv("TRIBUTARY_API_TOKENS_FILE", "/run/secrets/tokens")
	_, err := Load()
	if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS and TRIBUTARY_API_TOKENS_FILE are both set") || strings.Contains(err.Error(), secret) {
		t.Errorf("both set: expected a refusal naming both variables, quoting neither; got %v", err)
	}
	t.Setenv("TRIBUTARY_API_TOKENS", "")
	if _, err := Load(); err != nil {
		t.Errorf("the file with the variable set but empty (as compose.yaml passes it): expected it loaded; got %v", err)
	}
}
