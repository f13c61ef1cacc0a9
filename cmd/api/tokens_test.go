package main

import (
	"context"
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
	_, err := loadTokens(context.Background(), cfg)
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
		tokens, err := loadTokens(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS") || strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("TRIBUTARY_API_TOKENS=%q: expected an error naming the variable, quoting no token; got %d tokens, %v", value, len(tokens), err)
		}
	}
	cfg := config.Defaults()
	if tokens, err := loadTokens(context.Background(), cfg); err != nil || len(tokens) != 0 {
		t.Errorf("TRIBUTARY_API_TOKENS empty: expected no tokens and no error (access control off); got %d tokens, %v", len(tokens), err)
	}
}
