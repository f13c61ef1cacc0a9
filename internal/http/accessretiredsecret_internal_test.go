package http

import (
	"strings"
	"testing"
	"time"
)

// TestATokenInForceTakesNoRetiredPlace: a token was retired by its name,
// role and secret together, so a token whose role changed (its secret
// still in force) took a retired place at each change, and, past
// retiredCap, pushed a token truly removed out of the redaction early.
// Retired tokens are told by their secret.
func TestATokenInForceTakesNoRetiredPlace(t *testing.T) {
	keep, capped, now := retiredKeep, retiredCap, time.Now()
	t.Cleanup(func() { retiredKeep, retiredCap = keep, capped })
	retiredKeep, retiredCap = 1, 1
	const gone, kept = "9f86d081884c7d659a2feaa0", "c55a45d1bf3e4ef2b0d1aa43"
	x := NewAccess([]Token{{Name: "old", Role: RoleRead, Secret: gone}, {Name: "app", Role: RoleRead, Secret: kept}})
	x.clock = func() time.Time { return now }
	for i, role := range []Role{RoleWrite, RoleRead, RoleWrite, RoleRead} {
		if _, err := x.Replace([]Token{{Name: "app", Role: role, Secret: kept}}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(x.Redact("sent "+gone), gone) {
			t.Fatalf("a token removed, then %d role changes of one in force (cap %d): expected the removed one still redacted, it is not", i+1, retiredCap)
		}
	}
	if n := len(x.retired); n != 1 {
		t.Errorf("one token removed, another's role changed 4 times: want 1 retired, got %d", n)
	}
}
