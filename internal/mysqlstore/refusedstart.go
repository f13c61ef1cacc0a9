package mysqlstore

import (
	"strings"

	"github.com/go-sql-driver/mysql"
)

// UserRefused reports whether err, Open's or Migrate's, is the database
// refusing a DSN's user a new session: its password (1045) or its access
// to the database (1044). At start-up that is often passing: a password
// rotated in a secret store a moment after the process read the old one,
// or a grant still being made, which a later try finds mended. The
// server's words name the user and the client's host, never the password.
func UserRefused(err error) bool {
	return isMySQLError(err, errUserDenied, errDBDenied)
}

// WithoutPasswords returns err with the passwords of dsns (those that parse
// and have one) replaced wherever its text quotes them, for a refusal that
// is logged and returned in the server's words: a server's never quote the
// password, but a proxy's or an authentication plugin's may quote what it
// was sent. It unwraps to err; err itself where its text quotes none.
func WithoutPasswords(err error, dsns ...string) error {
	var passwords []string
	for _, dsn := range dsns {
		if dsn == "" {
			continue
		}
		if cfg, perr := mysql.ParseDSN(dsn); perr == nil && cfg.Passwd != "" && strings.Contains(err.Error(), cfg.Passwd) {
			passwords = append(passwords, cfg.Passwd)
		}
	}
	if len(passwords) == 0 {
		return err
	}
	return &redactedError{err: err, passwords: passwords}
}

// redactedError is an error whose text has passwords replaced.
type redactedError struct {
	err       error
	passwords []string
}

func (e *redactedError) Error() string {
	text := e.err.Error()
	for _, p := range e.passwords {
		text = strings.ReplaceAll(text, p, "[password redacted]")
	}
	return text
}

func (e *redactedError) Unwrap() error { return e.err }
