package main

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// minRedactedPassword is the shortest DSN password redactDSNPasswords
// takes out of a line wherever the line holds it. A shorter one is as
// likely a part of the line's own words ("e", "ess"): taken out there it
// mangled them, and told what it was ("Acc[password redacted]ss"). It is
// taken out where a line can be seen to quote it (quotedPasswordAt).
const minRedactedPassword = 8

// redactedPassword is what stands in a log line for a DSN's password.
const redactedPassword = "[password redacted]"

// redactDSNPasswords returns log with the passwords of dsns taken out of
// every line, wherever it quotes them: the server's refusal of a user never
// does, but a proxy's, or an authentication plugin's, may quote what it was
// sent, and while serving (a password rotated under a running process, its
// pools reconnecting) such a refusal reaches the HTTP layer's 5xx lines,
// /readyz's and the live feed's, and at start-up its WARN and ERROR lines.
// A password the DSNs hold elsewhere too (compose.yaml's
// tributary:tributary@…/tributary: the user's and database's names are in
// the lines anyway) is left: its redaction would mangle lines, hide
// nothing, and point at it. Each is taken out as written and in the escaped
// forms a message may quote it in (passwordForms); one shorter than
// minRedactedPassword only where it stands quoted (quotedPasswordAt).
// log itself where no password is left to redact.
func redactDSNPasswords(log *slog.Logger, dsns ...string) *slog.Logger {
	passwords := newPasswordSet(dsns...)
	if passwords.empty() {
		return log
	}
	redacting := sqlstore.RedactingLogger(log, passwords.redact).Handler()
	return slog.New(passwordHandler{plain: log.Handler(), redacting: redacting, passwords: passwords})
}

// passwordSet is the DSN passwords' forms redactDSNPasswords takes out:
// long ones wherever a text holds them, short ones where it quotes them.
type passwordSet struct {
	long, short []string // each longest first
}

// newPasswordSet returns the forms of dsns' passwords (dsnPasswords,
// passwordForms) to take out.
func newPasswordSet(dsns ...string) passwordSet {
	var set passwordSet
	for _, f := range passwordForms(dsnPasswords(dsns...)) {
		if len(f) >= minRedactedPassword {
			set.long = append(set.long, f)
		} else {
			set.short = append(set.short, f)
		}
	}
	return set
}

func (set passwordSet) empty() bool { return len(set.long) == 0 && len(set.short) == 0 }

// holds reports whether s holds one of the passwords where redact takes it
// out.
func (set passwordSet) holds(s string) bool {
	for _, p := range set.long {
		if strings.Contains(s, p) {
			return true
		}
	}
	for _, p := range set.short {
		for i := strings.Index(s, p); i >= 0; {
			if quotedPasswordAt(s, i, i+len(p)) {
				return true
			}
			next := strings.Index(s[i+1:], p)
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return false
}

// redact returns s with the passwords taken out.
func (set passwordSet) redact(s string) string {
	for _, p := range set.long {
		if strings.Contains(s, p) {
			s = strings.ReplaceAll(s, p, redactedPassword)
		}
	}
	for _, p := range set.short {
		if !strings.Contains(s, p) {
			continue
		}
		var b strings.Builder
		last := 0
		for i := 0; i+len(p) <= len(s); {
			j := strings.Index(s[i:], p)
			if j < 0 {
				break
			}
			i += j
			if quotedPasswordAt(s, i, i+len(p)) {
				b.WriteString(s[last:i])
				b.WriteString(redactedPassword)
				i += len(p)
				last = i
				continue
			}
			i++
		}
		if last > 0 {
			b.WriteString(s[last:])
			s = b.String()
		}
	}
	return s
}

// quotedPasswordAt reports whether s[i:j], a short password, stands in s as
// one quoted: a token of its own (no letter or digit glued to it) in quotes
// ('pw', "pw", `pw`, \"pw\"), after a password's keyword (password: pw,
// passwd=pw, pwd 'pw'), or between a user's name and an @ (user:pw@host).
// Elsewhere it is more likely a part of the line's own words.
func quotedPasswordAt(s string, i, j int) bool {
	var left, right byte
	if i > 0 {
		left = s[i-1]
	}
	if j < len(s) {
		right = s[j]
	}
	if (isWordByte(left) && isWordByte(s[i]) && !hasEscapedSeparator(s[:i])) || (isWordByte(right) && isWordByte(s[j-1])) {
		return false
	}
	switch {
	case left == '\'', left == '"', left == '`':
		if right == left || (right == '\\' && j+1 < len(s) && s[j+1] == left) {
			return true
		}
	case left == ':' && right == '@':
		return true
	}
	// Only the keyword's bytes are looked at: lowering the whole line
	// before each occurrence cost a long line's length for each.
	before := trimSeparators(s[:i])
	if len(before) == i { // nothing between a keyword and it
		return false
	}
	if (s[i:j] == "YES" || s[i:j] == "NO") && strings.HasSuffix(before, "(using password") {
		return false // MySQL's own refusal says whether one was sent, not which
	}
	for _, k := range []string{"password", "passwd", "pwd"} {
		n := len(before) - len(k)
		if n >= 0 && strings.EqualFold(before[n:], k) && (n == 0 || !isWordByte(before[n-1])) {
			return true
		}
	}
	return false
}

// escapedSeparators are what may stand between a password's keyword and
// it in a message quoting a text escaped: Go's %q or JSON's (a line
// break, a tab) or a URL's (=, :, a space, a quote). Looked for as written
// only, "password:\nk9z" and "password%3Dk9z" kept a short password in
// clear.
var escapedSeparators = []string{`\n`, `\r`, `\t`, "%3D", "%3d", "%3A", "%3a", "%20", "%22", "%27"}

// hasEscapedSeparator reports whether s ends with one of escapedSeparators.
func hasEscapedSeparator(s string) bool {
	for _, e := range escapedSeparators {
		if strings.HasSuffix(s, e) {
			return true
		}
	}
	return false
}

// trimSeparators returns s without what may stand between a keyword and
// a password at its end: spaces, line breaks, := and quotes, as written or
// escaped.
func trimSeparators(s string) string {
	for {
		t := strings.TrimRight(s, " \t\r\n:='\"`\\+")
		for _, e := range escapedSeparators {
			if strings.HasSuffix(t, e) {
				t = t[:len(t)-len(e)]
				break
			}
		}
		if len(t) == len(s) {
			return t
		}
		s = t
	}
}

// isWordByte reports whether c is an ASCII letter or digit, or a byte of a
// character that is not ASCII.
func isWordByte(c byte) bool {
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// passwordHandler passes a line that plainly holds no password (its
// message and attributes strings without one, numbers, times) to plain as
// it is, and any other to redacting: the redaction rebuilt each request's
// access line, doubling its cost (3 µs), for a password no such line holds.
type passwordHandler struct {
	plain, redacting slog.Handler
	passwords        passwordSet
}

func (h passwordHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.plain.Enabled(ctx, level)
}

func (h passwordHandler) Handle(ctx context.Context, r slog.Record) error {
	clean := !h.passwords.holds(r.Message)
	// Each attribute while the line is clean so far: one that decided
	// afresh let a message holding the password pass, in clear, behind a
	// plain attribute.
	r.Attrs(func(a slog.Attr) bool {
		if !clean {
			return false
		}
		switch a.Value.Kind() {
		case slog.KindString:
			clean = !h.passwords.holds(a.Key) && !h.passwords.holds(a.Value.String())
		case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
			clean = !h.passwords.holds(a.Key)
		default: // an error, a group, a value whose text is not at hand
			clean = false
		}
		return clean
	})
	if clean {
		return h.plain.Handle(ctx, r)
	}
	return h.redacting.Handle(ctx, r)
}

// WithAttrs and WithGroup give up the plain path: what they bind is in
// every line after, redacted once.
func (h passwordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.redacting.WithAttrs(attrs)
}

func (h passwordHandler) WithGroup(name string) slog.Handler {
	return h.redacting.WithGroup(name)
}

// dsnPasswords returns the passwords of dsns redactDSNPasswords takes out:
// all but those the DSNs hold elsewhere too. A short one is held elsewhere
// where it is a user's, a database's, a host's name or a port, whole: in
// any part of them ("1" in 3306) it would be redacted nowhere.
func dsnPasswords(dsns ...string) []string {
	var passwords, rest, parts []string
	for _, dsn := range dsns {
		if dsn == "" {
			continue
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			continue // refused at the store's open, its error never quoting it
		}
		if cfg.Passwd != "" {
			passwords = append(passwords, cfg.Passwd)
		}
		parts = append(parts, cfg.User, cfg.DBName)
		if host, port, err := net.SplitHostPort(cfg.Addr); err == nil {
			parts = append(parts, host, port)
		} else {
			parts = append(parts, cfg.Addr)
		}
		cfg.Passwd = ""
		rest = append(rest, cfg.FormatDSN())
	}
	var kept []string
	for _, p := range passwords {
		elsewhere := slices.Contains(parts, p) || slices.Contains(kept, p)
		for _, r := range rest {
			elsewhere = elsewhere || (len(p) >= minRedactedPassword && strings.Contains(r, p))
		}
		if !elsewhere {
			kept = append(kept, p)
		}
	}
	return kept
}

// passwordForms returns passwords with, beside each, the forms a message
// may quote it in where they differ from it: Go's %q (a quote, a
// backslash, a byte not printable escaped), JSON's, and a URL's (query and
// path). A proxy's or a plugin's error quoting what it was sent escaped
// passed the redaction in clear. Longest first, so that a form holding a
// shorter one is replaced whole.
func passwordForms(passwords []string) []string {
	var forms []string
	for _, p := range passwords {
		quoted, ascii := strconv.Quote(p), strconv.QuoteToASCII(p)
		js, _ := json.Marshal(p)
		for _, f := range []string{p, quoted[1 : len(quoted)-1], ascii[1 : len(ascii)-1],
			string(js[1 : len(js)-1]), url.QueryEscape(p), url.PathEscape(p)} {
			if !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return forms
}

// withoutDSNPasswords returns err with the passwords of dsns that
// redactDSNPasswords takes out of the log replaced in its text, as there,
// for what is written past the log (main's line on stderr): a start that
// fails on a proxy's or an authentication plugin's error quotes what it
// was sent. It unwraps to err; err itself where its text quotes none.
func withoutDSNPasswords(err error, dsns ...string) error {
	passwords := newPasswordSet(dsns...)
	if !passwords.holds(err.Error()) {
		return err
	}
	return passwordsRedactedError{err, passwords}
}

// passwordsRedactedError is an error whose text has passwords replaced.
type passwordsRedactedError struct {
	err       error
	passwords passwordSet
}

func (e passwordsRedactedError) Error() string { return e.passwords.redact(e.err.Error()) }

func (e passwordsRedactedError) Unwrap() error { return e.err }
