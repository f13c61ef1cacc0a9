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
