package http_test

import (
	"strings"
	"testing"
)

// TestAtABoundOfOneTheRefusalNamesTheSettingTheOperatorSet: with
// TRIBUTARY_MAX_CONNECTIONS=1 the per-client bound (half of it, at least
// one) is one too, and was checked first: the 503, and its log line,
// named TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT, a setting the operator never
// set. Where the per-client bound is the server's, the server's is named.
func TestAtABoundOfOneTheRefusalNamesTheSettingTheOperatorSet(t *testing.T) {
	b := startBounded(t, 1, 1)
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	b.untilBlocked(t, 1)
	refused := dialFrom(t, b.addr, "127.0.0.1")
	refused.send(t, "/")
	requireRefused(t, refused, "this server already holds 1 connection (TRIBUTARY_MAX_CONNECTIONS)")
	if logs := b.logs.String(); !strings.Contains(logs, `"setting":"TRIBUTARY_MAX_CONNECTIONS"`) || strings.Contains(logs, "PER_CLIENT") {
		t.Errorf("the refusal at a bound of one was not logged naming TRIBUTARY_MAX_CONNECTIONS alone; the log:\n%s", logs)
	}
}
