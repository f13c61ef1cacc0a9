package main

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// minRedactedPassword is the shortest DSN password redactDSNPasswords
// takes out of the log: a shorter one is as likely a word of the lines
// themselves, which its redaction would mangle, and so point at.
const minRedactedPassword = 8

// redactedPassword is what stands in a log line for a DSN's password.
const redactedPassword = "[password redacted]"

// redactDSNPasswords returns log with the passwords of dsns taken out of
// every line, wherever it quotes them: the server's refusal of a user never
// does, but a proxy's, or an authentication plugin's, may quote what it was
// sent, and while serving (a password rotated under a running process, its
// pools reconnecting) such a refusal reaches the HTTP layer's 5xx lines,
// /readyz's and the live feed's. Start-up's refusals are redacted where
// they are told (mysqlstore.WithoutPasswords); these are the rest. A
// password shorter than minRedactedPassword, or one the DSNs hold
// elsewhere too (compose.yaml's tributary:tributary@…/tributary: the
// user's and database's names are in the lines anyway), is left: its
// redaction would mangle lines and hide nothing. Each is taken out as
// written and in the escaped forms a message may quote it in (passwordForms).
// log itself where no password is left to redact.
func redactDSNPasswords(log *slog.Logger, dsns ...string) *slog.Logger {
	passwords := passwordForms(dsnPasswords(dsns...))
	if len(passwords) == 0 {
		return log
	}
	redacting := sqlstore.RedactingLogger(log, func(s string) string {
		for _, p := range passwords {
			if strings.Contains(s, p) {
				s = strings.ReplaceAll(s, p, redactedPassword)
			}
		}
		return s
	}).Handler()
	return slog.New(passwordHandler{plain: log.Handler(), redacting: redacting, passwords: passwords})
}

// passwordHandler passes a line that plainly holds no password (its
// message and attributes strings without one, numbers, times) to plain as
// it is, and any other to redacting: the redaction rebuilt each request's
// access line, doubling its cost (3 µs), for a password no such line holds.
type passwordHandler struct {
	plain, redacting slog.Handler
	passwords        []string
}

func (h passwordHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.plain.Enabled(ctx, level)
}

func (h passwordHandler) Handle(ctx context.Context, r slog.Record) error {
	clean := !h.holds(r.Message)
	// Each attribute while the line is clean so far: one that decided
	// afresh let a message holding the password pass, in clear, behind a
	// plain attribute.
	r.Attrs(func(a slog.Attr) bool {
		if !clean {
			return false
		}
		switch a.Value.Kind() {
		case slog.KindString:
			clean = !h.holds(a.Key) && !h.holds(a.Value.String())
		case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
			clean = !h.holds(a.Key)
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

// holds reports whether s holds one of the passwords.
func (h passwordHandler) holds(s string) bool {
	for _, p := range h.passwords {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// WithAttrs and WithGroup give up the plain path: what they bind is in
// every line after, redacted once.
func (h passwordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.redacting.WithAttrs(attrs)
}

func (h passwordHandler) WithGroup(name string) slog.Handler {
	return h.redacting.WithGroup(name)
}

// dsnPasswords returns the passwords of dsns redactDSNPasswords takes out.
func dsnPasswords(dsns ...string) []string {
	var passwords, rest []string
	for _, dsn := range dsns {
		if dsn == "" {
			continue
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			continue // refused at the store's open, its error never quoting it
		}
		if len(cfg.Passwd) >= minRedactedPassword {
			passwords = append(passwords, cfg.Passwd)
		}
		cfg.Passwd = ""
		rest = append(rest, cfg.FormatDSN())
	}
	var kept []string
	for _, p := range passwords {
		elsewhere := false
		for _, r := range rest {
			elsewhere = elsewhere || strings.Contains(r, p)
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
// redactDSNPasswords takes out of the log replaced in its text, for what is
// written past the log (main's line on stderr): a start that fails on an
// error of a proxy's or an authentication plugin's other than a refusal of
// the user quotes what it was sent. It unwraps to err; err itself where its
// text quotes none.
func withoutDSNPasswords(err error, dsns ...string) error {
	var quoted []string
	for _, p := range passwordForms(dsnPasswords(dsns...)) {
		if strings.Contains(err.Error(), p) {
			quoted = append(quoted, p)
		}
	}
	if len(quoted) == 0 {
		return err
	}
	return passwordsRedactedError{err, quoted}
}

// passwordsRedactedError is an error whose text has passwords replaced.
type passwordsRedactedError struct {
	err       error
	passwords []string
}

func (e passwordsRedactedError) Error() string {
	text := e.err.Error()
	for _, p := range e.passwords {
		text = strings.ReplaceAll(text, p, redactedPassword)
	}
	return text
}

func (e passwordsRedactedError) Unwrap() error { return e.err }
