package http

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Access is the set of access tokens a Server checks requests against,
// which Replace may change while it serves (a tokens file rewritten): a
// request that starts after a Replace is checked against the new set
// alone, and a subscription opened with a token that Replace removes (or
// whose secret it changes) ends at once with a last problem event (401).
// A nil *Access is access control off, for good: a set of tokens cannot
// be emptied, nor one made where there was none.
type Access struct {
	mu  sync.Mutex // serializes Replace
	cur atomic.Pointer[authenticator]
	// inForce is the set accepted; retired, oldest first, the tokens
	// it held that Replace removed, still redacted from the logs (a
	// leaked token, revoked, that its finder sends), though no longer
	// accepted: those removed within retiredFor, or the last
	// retiredKeep, whichever are more, at most retiredCap.
	inForce []Token
	retired []retiredToken
	clock   func() time.Time // time.Now; a test's
}

// retiredToken is a token Replace removed, and when.
type retiredToken struct {
	Token
	at time.Time
}

// The bounds on the retired tokens kept for redaction: every token ever
// held was kept, and a file rotated every few seconds (a sidecar's
// short-lived tokens) grew them without end (10,010 tokens: 20 MiB, a
// quarter of a second a change). Variables for a test's.
var (
	retiredFor  = 24 * time.Hour
	retiredKeep = 1024
	retiredCap  = 4096
)

// NewAccess returns the access control for tokens, nil (off) for none.
func NewAccess(tokens []Token) *Access {
	if len(tokens) == 0 {
		return nil
	}
	x := &Access{inForce: slices.Clone(tokens), clock: time.Now}
	x.cur.Store(newAuthenticator(tokens))
	return x
}

// TokenChanges says what a Replace changed, by the tokens' names (never
// their secrets): those added, those removed, and those kept under the
// same name with another secret or role.
type TokenChanges struct {
	Added, Removed, Changed []string
}

// None reports whether the Replace changed nothing.
func (c TokenChanges) None() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// errEmptyAccess is Replace's refusal of a set with no token.
var errEmptyAccess = errors.New("a set of no tokens would turn access control off: the tokens in force are kept")

// Replace makes tokens the set requests are checked against, from the
// next one that starts, and ends the subscriptions of every token no
// longer in it (by its secret: a name given a new secret is a token
// removed and one added). It refuses an empty set, and returns the
// changes by name.
func (x *Access) Replace(tokens []Token) (TokenChanges, error) {
	if len(tokens) == 0 {
		return TokenChanges{}, errEmptyAccess
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.cur.Load()
	x.retire(tokens)
	known := slices.Clone(tokens)
	for _, r := range x.retired {
		known = append(known, r.Token)
	}
	next := newAuthenticator(known) // redacts every token in force or kept retired
	checked := newAuthenticator(tokens)
	next.tokens = checked.tokens // accepts only these
	var changes TokenChanges
	oldByName := map[string]hashedToken{}
	for _, t := range old.tokens {
		oldByName[t.name] = t
	}
	kept := map[[32]byte]bool{}
	for i, t := range next.tokens {
		if o, ok := oldByName[t.name]; ok && o.digest == t.digest {
			next.tokens[i].revoked, next.tokens[i].revoke = o.revoked, o.revoke // its subscriptions go on
			kept[t.digest] = true
			if o.role != t.role {
				changes.Changed = append(changes.Changed, t.name)
			}
		} else if ok {
			changes.Changed = append(changes.Changed, t.name)
		} else {
			changes.Added = append(changes.Added, t.name)
		}
		delete(oldByName, t.name)
	}
	for name := range oldByName {
		changes.Removed = append(changes.Removed, name)
	}
	slices.Sort(changes.Removed)
	x.cur.Store(next)
	// After the store: a subscription that finds its token's channel
	// closed has been refused a reconnect already.
	for _, o := range old.tokens {
		if !kept[o.digest] {
			o.revoke()
		}
	}
	return changes, nil
}

// retire makes tokens the set in force, retiring those of the set before
// that it lacks, and forgets the retired past the bounds (retiredFor,
// retiredKeep, retiredCap). A token retired and back in force is no longer
// retired; tokens are told by their secret.
func (x *Access) retire(tokens []Token) {
	now := x.clock()
	// Told by the secret, what is redacted: a token whose name or role
	// changed is still in force, and took a retired place at each change.
	inForce := func(secret string) bool {
		return slices.ContainsFunc(tokens, func(t Token) bool { return t.Secret == secret })
	}
	x.retired = slices.DeleteFunc(x.retired, func(r retiredToken) bool { return inForce(r.Secret) })
	for _, t := range x.inForce {
		retired := slices.ContainsFunc(x.retired, func(r retiredToken) bool { return r.Secret == t.Secret })
		if !inForce(t.Secret) && !retired {
			x.retired = append(x.retired, retiredToken{t, now})
		}
	}
	x.inForce = slices.Clone(tokens)
	drop := 0
	for n := len(x.retired); n-drop > retiredKeep && (n-drop > retiredCap || now.Sub(x.retired[drop].at) >= retiredFor); drop++ {
	}
	x.retired = slices.Delete(x.retired, 0, drop)
}

// Redact is what this package does to each line it logs of what a client
// may have sent (Redactor), with every token the set holds, and those it
// held that are kept retired (retire).
// With a nil x it returns s.
func (x *Access) Redact(s string) string {
	return x.now().redactLogged(s)
}

// now is the set in force, nil for a nil x.
func (x *Access) now() *authenticator {
	if x == nil {
		return nil
	}
	return x.cur.Load()
}

// The authenticator's methods, on the set in force.

func (x *Access) lookup(secret string) (hashedToken, bool) { return x.now().lookup(secret) }
func (x *Access) near(s string) bool                       { return x.now().near(s) }
func (x *Access) redact(s string) string                   { return x.now().redact(s) }
func (x *Access) redactLogged(s string) string             { return x.now().redactLogged(s) }
func (x *Access) holdsToken(s string) bool                 { return x.now().holdsToken(s) }
func (x *Access) logQuery(raw string) string               { return x.now().logQuery(raw) }
func (x *Access) redactEncoded(s string, escape func(string) string) string {
	return x.now().redactEncoded(s, escape)
}
