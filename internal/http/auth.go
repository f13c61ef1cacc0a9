package http

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// Role is what a token may do.
type Role string

const (
	// RoleRead may read and subscribe.
	RoleRead Role = "read"
	// RoleWrite may also append.
	RoleWrite Role = "write"
)

// Token is one access token of TRIBUTARY_API_TOKENS.
type Token struct {
	// Name identifies the token's holder in logs, in place of the secret.
	Name   string
	Role   Role
	Secret string
}

// ParseTokens parses comma- or newline-separated name:role:token entries,
// e.g. "app:write:s3cr3t1,dashboard:read:s3cr3t2". Names and secrets must be
// unique; the error names an entry by its place, and never repeats a secret
// or a name (an entry in the wrong order may hold the secret in its place).
func ParseTokens(s string) ([]Token, error) {
	var entries []placedEntry
	for i, text := range splitEntries(s) {
		entries = append(entries, placedEntry{text: text, place: fmt.Sprintf("token entry %d", i+1), ref: fmt.Sprintf("entry %d", i+1)})
	}
	tokens, _, err := parseTokenEntries(entries)
	return tokens, err
}

// TokenSource is text holding token entries, as ParseTokens takes them,
// and the name by which errors say where an entry is.
type TokenSource struct {
	// Name is where the text came from: a variable's name.
	Name string
	Text string
	// Lines says the text is a file's, one entry a line: its entries are
	// named by their lines, which "\n", "\r\n" or "\r" ends.
	Lines bool
}

// ParseTokenSources parses the entries of every source as one set (names
// and secrets unique across them), as ParseTokens does, and returns with
// the tokens where each was given, places[i] tokens[i]'s. An entry is
// named by its place, never its text: in a source of lines "NAME line N"
// (with "entry K" after it on a line holding several), in another "NAME
// entry N", N counting its comma- or line-separated entries, comments
// and empty ones included, so that an entry's number does not hang on
// whether an empty one holds a space.
func ParseTokenSources(sources ...TokenSource) (tokens []Token, places []string, err error) {
	var entries []placedEntry
	for _, src := range sources {
		if !src.Lines {
			for i, text := range splitEntries(src.Text) {
				place := fmt.Sprintf("%s entry %d", src.Name, i+1)
				entries = append(entries, placedEntry{text: text, place: place, ref: place})
			}
			continue
		}
		for n, line := range strings.Split(lineBreaks.Replace(src.Text), "\n") {
			pieces := strings.Split(line, ",")
			for k, text := range pieces {
				place := fmt.Sprintf("%s line %d", src.Name, n+1)
				if len(pieces) > 1 {
					place += fmt.Sprintf(" entry %d", k+1)
				}
				entries = append(entries, placedEntry{text: text, place: place, ref: place})
			}
		}
	}
	return parseTokenEntries(entries)
}

// lineBreaks makes every line break of a file's text "\n": "\r\n" (one
// break, not two), "\n" or "\r" alone (classic Mac OS), as editors count
// lines. A file whose lines "\r" alone ends was one line: its first
// entry's token ran on into the others, and, where that line began with
// a comment, the whole file was one, and held no token.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// entryBreaks makes every separator of entries in a variable's text one
// comma: a line break, "\r\n" (one break, not two), "\n" or "\r".
var entryBreaks = strings.NewReplacer("\r\n", ",", "\n", ",", "\r", ",")

// splitEntries is the entries of a variable's text, empty ones kept: an
// entry is numbered by its place, whether those before it hold anything
// (spaces) or not.
func splitEntries(s string) []string {
	return strings.Split(entryBreaks.Replace(s), ",")
}

// placedEntry is one entry of token text and where it is: place names it
// at the start of an error, ref where another entry's error points to it.
type placedEntry struct {
	text, place, ref string
}

// parseTokenEntries parses entries as ParseTokens documents, returning
// each token's place.
func parseTokenEntries(entries []placedEntry) ([]Token, []string, error) {
	var tokens []Token
	var places []string
	names, secrets := map[string]int{}, map[string]int{} // entry indexes, plus one
	for i, e := range entries {
		entry := strings.TrimSpace(e.text)
		if entry == "" || strings.HasPrefix(entry, "#") {
			continue
		}
		name, rest, ok1 := strings.Cut(entry, ":")
		role, secret, ok2 := strings.Cut(rest, ":")
		switch {
		case !ok1 || !ok2 || name == "" || secret == "":
			return nil, nil, fmt.Errorf("%s: want name:role:token", e.place)
		case Role(role) != RoleRead && Role(role) != RoleWrite:
			// Neither field is quoted: an entry whose role is wrong may
			// have its fields in another order, the token among them.
			return nil, nil, fmt.Errorf("%s: the role, its second field, must be read or write; "+
				"entries are name:role:token (its fields are not shown, as one may be the token)", e.place)
		// Entries are named by their places, not their names: an entry
		// written token:role:name has a valid role, and its name is the
		// token.
		case names[name] != 0:
			return nil, nil, fmt.Errorf("%s: its name is %s's; give each token a name of its own "+
				"(entries are name:role:token; the name is not shown, as it may be the token)", e.place, entries[names[name]-1].ref)
		case secrets[secret] != 0:
			return nil, nil, fmt.Errorf("%s: its token is %s's; give each holder a token of its own", e.place, entries[secrets[secret]-1].ref)
		}
		names[name], secrets[secret] = i+1, i+1
		tokens = append(tokens, Token{Name: name, Role: Role(role), Secret: secret})
		places = append(places, e.place)
	}
	// The access log names a request's holder: a name that is another
	// entry's token (two entries' fields mixed up) would log that token,
	// and so would one that holds a token among other characters (its
	// own, or another's), as redaction finds it.
	for _, t := range tokens {
		if other := secrets[t.Name]; other != 0 {
			return nil, nil, fmt.Errorf("%s: its name is %s's token, which the access log would then show; "+
				"give each holder a name that is not a token (entries are name:role:token; neither is shown)", entries[names[t.Name]-1].place, entries[other-1].ref)
		}
	}
	a := newAuthenticator(tokens)
	for _, t := range tokens {
		if a.redact(t.Name) == t.Name {
			continue
		}
		for _, o := range tokens {
			if newAuthenticator([]Token{o}).redact(t.Name) != t.Name {
				return nil, nil, fmt.Errorf("%s: its name holds %s's token, which the access log would then show; "+
					"give each holder a name that holds no token (entries are name:role:token; neither is shown)", entries[names[t.Name]-1].place, entries[secrets[o.Secret]-1].ref)
			}
		}
	}
	// Nor most of one: a name holding 37 of a token's 40 characters
	// logged all but 3 of them. What the log and the errors show is
	// kept from sharing nearPiece characters in a row with a token (near,
	// redactNear); so is a name.
	for _, t := range tokens {
		if !a.near(t.Name) {
			continue
		}
		for _, o := range tokens {
			if !newAuthenticator([]Token{o}).near(t.Name) {
				continue
			}
			whose := entries[secrets[o.Secret]-1].ref + "'s token"
			if o.Secret == t.Secret {
				whose = "its own token"
			}
			return nil, nil, fmt.Errorf("%s: its name shares %d characters in a row (in any case) with %s, which the access log would then show "+
				"in part; give each holder a name that shares no %d characters in a row with any token (entries are name:role:token; neither is shown)",
				entries[names[t.Name]-1].place, nearPiece, whose, nearPiece)
		}
	}
	return tokens, places, nil
}

// authenticator checks bearer tokens.
type authenticator struct {
	tokens []hashedToken
	// windows finds where a token may sit in a logged path or query
	// (redact): of each length a token's spellings have, their rolling
	// hashes (keyed by base, random per process) in formSpace's form,
	// confirmed by known.
	windows map[int]map[uint64]bool
	base    uint64
	// spelt are the digests of every spelling a token takes in what is
	// logged (spellings), in formSpace's form, which redact finds and
	// lookup never accepts.
	spelt [][sha256.Size]byte
	// pieces are the rolling hashes of every nearPiece characters in a
	// row of each token, in lower case: a value that holds one is logged
	// as its length alone (near).
	pieces map[uint64]bool
}

type hashedToken struct {
	name   string
	role   Role
	digest [sha256.Size]byte
	// revoked ends (revoke) when the token leaves the set
	// (Access.Replace): the subscriptions opened with it end, a write
	// pending on their client cut.
	revoked context.Context
	revoke  context.CancelFunc
}

func newAuthenticator(tokens []Token) *authenticator {
	if len(tokens) == 0 {
		return nil
	}
	a := &authenticator{windows: map[int]map[uint64]bool{}, base: rand.Uint64() | 1, pieces: map[uint64]bool{}}
	for _, t := range tokens {
		revoked, revoke := context.WithCancel(context.Background())
		a.tokens = append(a.tokens, hashedToken{t.Name, t.Role, sha256.Sum256([]byte(t.Secret)), revoked, revoke})
		lower := strings.ToLower(t.Secret)
		for i := 0; i+nearPiece <= len(lower); i++ {
			a.pieces[a.rolling(lower[i:i+nearPiece])] = true
		}
		for _, spelling := range spellings(t.Secret) {
			spelling = formSpace(spelling)
			a.spelt = append(a.spelt, sha256.Sum256([]byte(spelling)))
			n := len(spelling)
			if a.windows[n] == nil {
				a.windows[n] = map[uint64]bool{}
			}
			a.windows[n][a.rolling(spelling)] = true
		}
	}
	return a
}

// spellings is secret, then the other ways the service may write it in
// what it logs or answers: a stream or event id is written as it was
// parsed, a UUID in lower case (eventstore.ParseUUID takes either case),
// so a token that is a UUID with an upper-case letter comes back in a
// store's errors lower-cased; and a value a problem or an error quotes
// (%q) has its quotes and backslashes escaped.
func spellings(secret string) []string {
	out := []string{secret}
	if id, err := uuid.Parse(secret); err == nil && len(secret) == 36 && id.String() != secret {
		out = append(out, id.String())
	}
	if q := strconv.Quote(secret); q[1:len(q)-1] != secret {
		out = append(out, q[1:len(q)-1])
	}
	return out
}

// formSpace is s with every '+' a space, as a form (and so many a
// client's query, and some a path) encodes a space: redact compares what
// it is given and the tokens so, so that a token is found whichever of
// the two each of its spaces and pluses is written as. Each is one byte:
// what it finds in formSpace(s) is at the same place in s.
func formSpace(s string) string {
	return strings.ReplaceAll(s, "+", " ")
}

// lookup finds the token for a presented secret. It compares digests in
// constant time and always looks at every token, so timing tells nothing of
// which token, or how much of one, matched.
func (a *authenticator) lookup(secret string) (hashedToken, bool) {
	d := sha256.Sum256([]byte(secret))
	var found hashedToken
	ok := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			found, ok = t, 1
		}
	}
	return found, ok == 1
}

// known reports whether s, in formSpace's form, is a spelling of a token
// (spellings) in that form, comparing digests in constant time as lookup
// does.
func (a *authenticator) known(s string) bool {
	d := sha256.Sum256([]byte(s))
	found := 0
	for _, spelt := range a.spelt {
		found |= subtle.ConstantTimeCompare(d[:], spelt[:])
	}
	return found == 1
}

// nearPiece is how many characters in a row a logged value may not share
// with a known token (in any case): a token mistyped or cut short where a
// name or an id goes shares at least so many with it, and a name that
// does, unlikely for a token of random characters, is not logged whole.
const nearPiece = 8

// near reports whether s shares nearPiece characters in a row, in any
// case, with a known token: a value that parses where it is sent (a
// filter's name, a stream id) may be a token mistyped or cut short there,
// which redact does not find, and is then logged as its length alone
// (invalidValue). A known token itself is not near: it is logged as
// REDACTED (redact), which says more. With no tokens (a nil a) it
// returns false.
func (a *authenticator) near(s string) bool {
	if a == nil || len(s) < nearPiece {
		return false
	}
	s = strings.ToLower(a.redact(s))
	// Every piece is looked up, with no return at the first found: how
	// long it takes does not say where in s, if anywhere, one is.
	found := false
	for i := 0; i+nearPiece <= len(s); i++ {
		found = a.pieces[a.rolling(s[i:i+nearPiece])] || found
	}
	return found
}

// redactNear is s with every run of characters that shares nearPiece in
// a row, in any case, with a known token written as <invalid: N bytes>
// (invalidValue): a token mistyped or cut short where a stream id or a
// name goes comes back in the errors the log writes ("read stream <id>:
// …"), which redact does not find. A run reaches from the characters
// shared to the nearest edge of a word on each side (wordEdge), so that
// what surrounds it stays readable. One pass of a rolling hash over s,
// for the error lines alone (redactLogged); a known token itself is left
// for redact. With no tokens (a nil a) it returns s.
func (a *authenticator) redactNear(s string) string {
	if a == nil || len(s) < nearPiece {
		return s
	}
	pow := uint64(1) // base^(nearPiece-1)
	for range nearPiece - 1 {
		pow *= a.base
	}
	var h uint64
	for i := range nearPiece {
		h = h*a.base + uint64(asciiLower(s[i]))
	}
	var runs [][2]int // [start, end) of each run found, in order
	for i := 0; ; i++ {
		if a.pieces[h] {
			start, end := i, i+nearPiece
			for start > 0 && !wordEdge(s[start-1]) {
				start--
			}
			for end < len(s) && !wordEdge(s[end]) {
				end++
			}
			if n := len(runs); n > 0 && start <= runs[n-1][1] {
				runs[n-1][1] = max(runs[n-1][1], end)
			} else {
				runs = append(runs, [2]int{start, end})
			}
		}
		if i+nearPiece == len(s) {
			break
		}
		h = (h-uint64(asciiLower(s[i]))*pow)*a.base + uint64(asciiLower(s[i+nearPiece]))
	}
	if runs == nil {
		return s
	}
	var b strings.Builder
	done := 0
	for _, r := range runs {
		b.WriteString(s[done:r[0]])
		b.WriteString(invalidValue(s[r[0]:r[1]]))
		done = r[1]
	}
	b.WriteString(s[done:])
	return b.String()
}

// asciiLower is c in lower case if it is an ASCII letter: what
// strings.ToLower makes of a token's ASCII characters (near's pieces),
// byte for byte.
func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// wordEdge reports whether c ends a word of an error's text, where
// redactNear ends what it replaces: a space or a control character, a
// quote, or what separates an error's parts or a list's items.
func wordEdge(c byte) bool {
	return c <= ' ' || strings.IndexByte("\"'`:,;()[]{}<>", c) >= 0
}

// redactLogged is s, a text the log writes that may quote what a client
// sent (an error, a panic's value), with every known token REDACTED, as
// sent or percent-encoded (redactEncoded), and every run of characters
// that shares part of one <invalid: N bytes> (redactNear).
func (a *authenticator) redactLogged(s string) string {
	return a.redactNear(a.redactEncoded(s, asDecoded))
}

// redact replaces every known token in s with REDACTED, wherever it sits
// and whatever surrounds it: a client may put a token where no token goes
// (a position, a stream id, a fragment, in quotes, beside a dot), and a
// token may hold what separates the parts of a path or query (a base64
// token holds / + =). Every window of s as long as a token is checked: a
// rolling hash finds the candidates, the constant-time digest lookup of
// access control confirms them. A '+' and a space are taken for each
// other (formSpace). With no tokens (a nil a) it returns s.
func (a *authenticator) redact(s string) string {
	if a == nil || s == "" {
		return s
	}
	f := formSpace(s) // what is compared; s keeps what is written
	var hits [][2]int // [start, end) of each token found
	for n, sums := range a.windows {
		if n == 0 || n > len(f) {
			continue
		}
		pow := uint64(1) // base^(n-1)
		for range n - 1 {
			pow *= a.base
		}
		h := a.rolling(f[:n])
		for i := 0; ; i++ {
			if sums[h] && a.known(f[i:i+n]) {
				hits = append(hits, [2]int{i, i + n})
			}
			if i+n == len(f) {
				break
			}
			h = (h-uint64(f[i])*pow)*a.base + uint64(f[i+n])
		}
	}
	if len(hits) == 0 {
		return s
	}
	slices.SortFunc(hits, func(x, y [2]int) int { return cmp.Compare(x[0], y[0]) })
	var b strings.Builder
	done := 0 // s[:done] is in b, or REDACTED in its place
	for _, hit := range hits {
		if hit[1] <= done {
			continue
		}
		if hit[0] >= done {
			b.WriteString(s[done:hit[0]])
			b.WriteString("REDACTED")
		} // else it overlaps the one before: REDACTED covers both
		done = hit[1]
	}
	b.WriteString(s[done:])
	return b.String()
}

// maxUnescapes is how many times redactEncoded decodes what it is given,
// looking for a token encoded as many times: a client that encodes a URL
// twice sends its token so. Past it, what is still encoded is not read.
const maxUnescapes = 8

// tooEncoded stands in the log for what is encoded more than maxUnescapes
// times, which no client sends but to hide what it holds.
const tooEncoded = "REDACTED (percent-encoded more than 8 times)"

// redactEncoded is redact(s), unless s holds a known token percent-encoded
// once or more (its escapes in either case of hex): then it is s decoded
// as many times as that takes, every token REDACTED, and written again
// with escape. What is still encoded after maxUnescapes decodings is
// tooEncoded as a whole. With no tokens (a nil a) it returns s.
func (a *authenticator) redactEncoded(s string, escape func(string) string) string {
	if a == nil {
		return s
	}
	out := a.redact(s)
	cur := out
	for range maxUnescapes {
		next := unescapeLeniently(cur)
		if next == cur {
			return out
		}
		if red := a.redact(next); red != next {
			out, next = escape(red), red
		}
		cur = next
	}
	if unescapeLeniently(cur) != cur {
		return tooEncoded
	}
	return out
}

// asDecoded is redactEncoded's escape for what is logged decoded: an
// error, a method.
func asDecoded(decoded string) string { return decoded }

// holdsToken reports whether s holds a known token, as sent or percent-
// encoded once or more (redactEncoded).
func (a *authenticator) holdsToken(s string) bool {
	return a.redactEncoded(s, asDecoded) != s
}

// unescapeLeniently decodes every valid percent-escape of s, and keeps
// anything else as it is: a path or query that does not decode as a whole
// may still hold an encoded token.
func unescapeLeniently(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// rolling is the rolling hash of s that redact slides along a path.
func (a *authenticator) rolling(s string) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h*a.base + uint64(s[i])
	}
	return h
}

var (
	errUnauthorized = errors.New("unauthorized")
	errForbidden    = errors.New("forbidden")
)

// requireToken is the access-control middleware: every request needs a known
// token, and a write needs a write token. EventSource cannot set headers, so
// a GET or HEAD may send ?access_token= instead of Authorization: Bearer.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The token chooses the answer (it, a 401 or a 403): no cache
		// may hand one to a request that sent another (RFC 9110 §12.5.5).
		w.Header().Add("Vary", "Authorization")
		secret, err := presentedToken(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		t, ok := s.auth.lookup(secret)
		if !ok {
			s.writeError(w, r, &detailError{kind: errUnauthorized, detail: "the access token is not valid"})
			return
		}
		// A token in the query made the answer private already
		// (cacheControl), whatever it is.
		setPrincipal(r.Context(), t.name)
		if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
			e.revoked = t.revoked // a subscription ends with the token's removal
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && t.role != RoleWrite {
			s.writeError(w, r, &detailError{kind: errForbidden,
				detail: fmt.Sprintf("token %q may only read; %s needs a write token", t.name, r.Method)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenInQueryOfWrite is the 400 of ?access_token= on a request other than a
// GET or HEAD, nil otherwise. It is a request's shape, not an access
// decision: it is refused whether or not access control is on (query), so
// that a client tested on a server without tokens does not fail on one with.
func tokenInQueryOfWrite(r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Query().Has("access_token") {
		return badRequest("?access_token= is taken only on a GET or HEAD (a browser EventSource, which cannot set headers): " +
			"send this request's token as Authorization: Bearer <token>, not in its URL, which proxies and browsers log")
	}
	return nil
}

// presentedToken reads the token from the Authorization header or, on a
// GET or HEAD, the access_token query parameter.
func presentedToken(r *http.Request) (string, error) {
	// A token in a URL ends up in the logs of proxies and browsers (this
	// server's own redacts it): it is taken where nothing else can carry
	// it, a browser's EventSource and the page's reads, and an append,
	// which fetch sends with a header, is refused, whatever the token.
	if err := tokenInQueryOfWrite(r); err != nil {
		return "", err
	}
	// One token, sent one way (RFC 6750 §2): of two, neither may win
	// silently (a proxy may add its own header to the client's).
	if n := len(r.Header.Values("Authorization")); n > 1 {
		return "", badRequest("send one Authorization header, not %d", n)
	}
	// An empty header (or one of spaces, which net/http trims) carries
	// no token: beside ?access_token= the query's is the one sent.
	if h := r.Header.Get("Authorization"); h != "" {
		if r.URL.Query().Has("access_token") {
			return "", badRequest("send the token one way: the Authorization header or ?access_token=, not both")
		}
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return "", &detailError{kind: errUnauthorized, detail: "the Authorization header must be: Bearer <token>"}
		}
		return strings.TrimSpace(token), nil
	}
	q := r.URL.Query()
	if t := q.Get("access_token"); t != "" {
		return t, nil
	}
	// Told what is wrong with what came, as the open server's 400s
	// (query) tell it: never the value, which may be a token.
	if q.Has("access_token") {
		return "", &detailError{kind: errUnauthorized,
			detail: "?access_token= is empty: give the token after it (a variable not set?), or send Authorization: Bearer <token>"}
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if strings.EqualFold(name, "access_token") {
			return "", &detailError{kind: errUnauthorized, format: "query parameter %q is not one this server takes: the token's " +
				"is access_token, in lower case (or send Authorization: Bearer <token>)", args: []any{name}}
		}
	}
	return "", &detailError{kind: errUnauthorized,
		detail: "this server needs an access token: send Authorization: Bearer <token> (or ?access_token=<token> from a browser EventSource)"}
}

// principalKey holds, in a request's context, the slot where the access log
// reads the name of the token the request was made with.
type principalKey struct{}

func withPrincipalSlot(ctx context.Context) (context.Context, *string) {
	p := new(string)
	return context.WithValue(ctx, principalKey{}, p), p
}

func setPrincipal(ctx context.Context, name string) {
	if p, ok := ctx.Value(principalKey{}).(*string); ok {
		*p = name
	}
}

// logQuery returns a raw query string fit for the log. Names are compared
// decoded, as the server reads them (access%5Ftoken is access_token). Only
// the API's own parameters keep their values, and only a value that parses
// as what its parameter takes (parsesAs); another shows as
// <invalid: N bytes> (invalidValue), as a mistyped token pasted there,
// which redact does not know, would be logged almost whole otherwise.
// access_token shows as REDACTED, and any other pair, name included, as
// REDACTED: a misspelled token parameter, a token pasted without a name or
// a malformed pair may hold a secret in either part. A value that parses
// but shares part of a known token (near) shows as <invalid: N bytes>
// too: a name or an id is no token, and one mistyped there would be
// logged almost whole. With no tokens (a nil a), no value is near one.
func (a *authenticator) logQuery(raw string) string {
	if raw == "" {
		return ""
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		k, v, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		switch {
		case err1 == nil && name == "access_token":
			pairs[i] = "access_token=REDACTED"
		case err1 != nil || !loggedParam(name):
			pairs[i] = "REDACTED"
		case err2 == nil && parsesAs(name, value) && !a.near(value):
			pairs[i] = name + "=" + value
		default:
			pairs[i] = name + "=" + invalidValue(v)
		}
	}
	return strings.Join(pairs, "&")
}

// loggedParam reports whether name is one of the API's own query
// parameters, whose values the log may show (parsesAs).
func loggedParam(name string) bool {
	switch name {
	case "after", "from", "limit", "direction", "stream_type", "type":
		return true
	}
	return false
}

// parsesAs reports whether v, decoded, is what the query parameter name
// takes: a number (from, limit; after on /events), a stream id (after, the
// cursor of /streams), forward or backward, or a list of names as a filter
// takes it (namesParam). Only such a value is logged.
func parsesAs(name, v string) bool {
	_, notNumber := parseNumber(v)
	switch name {
	case "from", "limit":
		return notNumber == 0
	case "after":
		_, err := eventstore.ParseUUID(name, v)
		return notNumber == 0 || err == nil
	case "direction":
		return v == "forward" || v == "backward"
	case "stream_type", "type":
		names := strings.Split(v, ",")
		if len(names) > MaxFilterNames || len(v) > MaxFilterLength {
			return false
		}
		for _, n := range names {
			if eventstore.ValidateName(name, strings.TrimSpace(n)) != nil {
				return false
			}
		}
		return true
	}
	return false
}

// invalidValue is what the log writes for a value a client sent where it
// does not parse (a query value, a path segment, a method): its length
// alone, for a value that parses nowhere may be a mistyped token.
func invalidValue(sent string) string {
	return "<invalid: " + strconv.Itoa(len(sent)) + " bytes>"
}
