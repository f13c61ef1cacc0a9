package main

import (
	"log/slog"
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
// redaction would mangle lines and hide nothing. log itself where no
// password is left to redact.
func redactDSNPasswords(log *slog.Logger, dsns ...string) *slog.Logger {
	passwords := dsnPasswords(dsns...)
	if len(passwords) == 0 {
		return log
	}
	return sqlstore.RedactingLogger(log, func(s string) string {
		for _, p := range passwords {
			if strings.Contains(s, p) {
				s = strings.ReplaceAll(s, p, redactedPassword)
			}
		}
		return s
	})
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
