package http

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRetiredTokensKeptForRedactionAreBounded: every token the set had
// held was kept for redaction, for good: a tokens file rotated often (a
// sidecar's short-lived tokens) grew it without end (10,010 tokens: 20 MiB,
// a quarter of a second a change, twice a log line's check). Retired
// tokens are kept retiredFor since they left, or the last retiredKeep,
// whichever keeps more, and never more than retiredCap.
func TestRetiredTokensKeptForRedactionAreBounded(t *testing.T) {
	keep, capped, now := retiredKeep, retiredCap, time.Now()
	t.Cleanup(func() { retiredKeep, retiredCap = keep, capped })
	retiredKeep, retiredCap = 3, 6
	// Unlike each other: a line near a token known (a piece of it) is
	// redacted too.
	secret := func(i int) string { return fmt.Sprintf("%x", sha256.Sum256([]byte{byte(i)}))[:24] }
	token := func(i int) Token { return Token{Name: "app", Role: RoleRead, Secret: secret(i)} }
	x := NewAccess([]Token{token(0)})
	x.clock = func() time.Time { return now }
	redacted := func(i int) bool { return !strings.Contains(x.Redact("sent "+secret(i)), secret(i)) }
	replace := func(i int) {
		t.Helper()
		if _, err := x.Replace([]Token{token(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Within the day: kept, up to the cap.
	for i := 1; i <= 5; i++ {
		replace(i)
	}
	for i := 0; i <= 5; i++ {
		if !redacted(i) {
			t.Errorf("token %d, retired within the day, among 5 (cap %d): expected it still redacted, it is not", i, retiredCap)
		}
	}
	for i := 6; i <= 8; i++ {
		replace(i)
	}
	if redacted(0) || redacted(1) || !redacted(2) {
		t.Errorf("8 retired within the day, cap %d: expected the two oldest forgotten and the third kept; redacted: 0 %v, 1 %v, 2 %v",
			retiredCap, redacted(0), redacted(1), redacted(2))
	}
	// A day on: the last retiredKeep alone.
	now = now.Add(retiredFor + time.Minute)
	replace(9)
	for i := 2; i <= 9; i++ {
		if want := i >= 6; redacted(i) != want { // 6, 7, 8 retired last, 9 in force
			t.Errorf("a day after 2..5 were retired, 6..8 the last %d: token %d redacted %v, want %v", retiredKeep, i, redacted(i), want)
		}
	}
	// A token back in force is no longer retired, and not forgotten.
	replace(6)
	now = now.Add(retiredFor + time.Minute)
	replace(6)
	if !redacted(6) {
		t.Error("a token retired, then in force again: expected it redacted, it is not")
	}
}
