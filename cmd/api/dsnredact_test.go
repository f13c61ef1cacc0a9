package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestWhichDSNPasswordsAreRedacted: a password is taken out of the log
// unless it is too short to be told from the lines' own words, or the DSNs
// hold it elsewhere (the user's or database's name, logged anyway).
func TestWhichDSNPasswordsAreRedacted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsns []string
		want []string
	}{
		{"a long one", []string{"app:Long-Secret-123@tcp(db:3306)/events"}, []string{"Long-Secret-123"}},
		{"the read DSN's too", []string{"app:Long-Secret-123@tcp(db:3306)/events", "ro:Other-Secret-456@tcp(replica:3306)/events"},
			[]string{"Long-Secret-123", "Other-Secret-456"}},
		{"none", []string{"root@tcp(127.0.0.1:3306)/tributary", ""}, nil},
		{"a short one", []string{"app:short@tcp(db:3306)/events"}, []string{"short"}},
		{"a short one that is the user's name", []string{"db:db@tcp(db:3306)/events"}, nil},
		{"the user's and database's name (compose.yaml's)", []string{"tributary:tributary@tcp(db:3306)/tributary"}, nil},
		{"the other DSN's database", []string{"app:eventsdb1@tcp(db:3306)/x", "ro:y-0123456789@tcp(replica:3306)/eventsdb1"}, []string{"y-0123456789"}},
		{"not a DSN", []string{"not a dsn"}, nil},
	} {
		if got := dsnPasswords(tc.dsns...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: dsnPasswords(%q) = %q; want %q", tc.name, tc.dsns, got, tc.want)
		}
	}
}

// TestEveryWayALineMayQuoteADSNsPasswordIsRedacted: the redaction lets a
// line that plainly holds no password pass as it is (an access line's
// cost); one holding it anywhere (its message, a string, an error, a
// group, an attribute bound with With) has it replaced.
func TestEveryWayALineMayQuoteADSNsPasswordIsRedacted(t *testing.T) {
	t.Parallel()
	const pw = "Long-Secret-0123456789"
	var logs testlog.Buffer
	log := redactDSNPasswords(newLogger(&logs, slog.LevelInfo), "app:"+pw+"@tcp(db:3306)/tributary")
	log.Info("request", "status", 201, "path", "/streams", "took", time.Second)
	log.Info("refused with " + pw)
	log.Warn("refused", "reason", "using password '"+pw+"'")
	log.Warn("refused", "error", fmt.Errorf("ping: %w", errors.New("using password '"+pw+"'")))
	log.Warn("refused", slog.Group("db", "error", "using password '"+pw+"'"))
	log.With("dsn_error", pw).Warn("refused")
	out := logs.String()
	if strings.Contains(out, pw) {
		t.Errorf("a line quotes the DSN's password; want it redacted:\n%s", out)
	}
	if n := strings.Count(out, redactedPassword); n != 5 {
		t.Errorf("want the password replaced in 5 lines, got %d:\n%s", n, out)
	}
	if !strings.Contains(out, `"status":201,"path":"/streams","took_ms":1000`) {
		t.Errorf("the line without a password is not as logged without the redaction:\n%s", out)
	}
}

// TestADSNsPasswordInAMessageWithPlainAttributesIsRedacted: the plain
// path's check of a line began with its message, then let each attribute
// decide afresh: a message quoting the password followed by a plain
// attribute (a status, a string without it) passed as it was, in clear.
func TestADSNsPasswordInAMessageWithPlainAttributesIsRedacted(t *testing.T) {
	t.Parallel()
	const pw = "Long-Secret-0123456789"
	var logs testlog.Buffer
	log := redactDSNPasswords(newLogger(&logs, slog.LevelInfo), "app:"+pw+"@tcp(db:3306)/tributary")
	log.Warn("refused with "+pw, "path", "/readyz")
	log.Warn("refused with "+pw, "status", 503)
	log.Warn("refused", "reason", pw, "path", "/readyz")
	if out := logs.String(); strings.Contains(out, pw) {
		t.Errorf("a line whose message, or an attribute before a plain one, quotes the DSN's password: want it redacted:\n%s", out)
	}
}

// TestAShortDSNPasswordIsRedactedWhereALineQuotesIt: a DSN password shorter
// than eight characters was never taken out of the log, a proxy's refusal
// quoting it logged it in clear. It is now taken out where a line can be
// seen to quote it (quoted whole, escaped or not; after "password"; between
// a user's name and an @), and left where it is part of other words, so
// that ordinary lines are as logged without it.
func TestAShortDSNPasswordIsRedactedWhereALineQuotesIt(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"x", "k9z", "Pa55w0r"} {
		var logs testlog.Buffer
		log := redactDSNPasswords(newLogger(&logs, slog.LevelInfo), "app:"+pw+"@tcp(db:3306)/tributary")
		quoting := []string{
			"Access denied for user 'app'@'10.0.0.7' (using password '" + pw + "')",
			`proxy: bad credentials "` + pw + `"`,
			`proxy: bad credentials \"` + pw + `\"`,
			"auth plugin: password: " + pw,
			"auth plugin: password=" + pw + ", user=app",
			"dial app:" + pw + "@db:3306 refused",
		}
		for _, line := range quoting {
			log.Warn("refused", "error", errors.New(line))
		}
		if err := withoutDSNPasswords(errors.New(quoting[0]), "app:"+pw+"@tcp(db:3306)/tributary"); !strings.Contains(err.Error(), "(using password '"+redactedPassword+"')") {
			t.Errorf("password %q: the start's error %q; want the password redacted", pw, err)
		}
		out := logs.String()
		if n := strings.Count(out, redactedPassword); n != len(quoting) {
			t.Errorf("password %q: want it redacted in each of %d lines quoting it, got %d:\n%s", pw, len(quoting), n, out)
		}
		// Ordinary lines, the password a part of their words, are intact.
		var plain testlog.Buffer
		ordinary := []string{
			"request", "path=/streams/" + pw + "x-1/events", "stream=order-" + pw + pw, "status=201",
			"listening on 127.0.0.1:8080", "using password: YES", "took 1ms",
		}
		log = redactDSNPasswords(newLogger(&plain, slog.LevelInfo), "app:"+pw+"@tcp(db:3306)/tributary")
		for _, line := range ordinary {
			log.Info(line, "status", 201)
		}
		if got := plain.String(); strings.Contains(got, redactedPassword) {
			t.Errorf("password %q: an ordinary line was mangled:\n%s", pw, got)
		}
	}
}
