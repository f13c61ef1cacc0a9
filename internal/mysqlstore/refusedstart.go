package mysqlstore

// UserRefused reports whether err, Open's or Migrate's, is the database
// refusing a DSN's user a new session: its password (1045) or its access
// to the database (1044). At start-up that is often passing: a password
// rotated in a secret store a moment after the process read the old one,
// or a grant still being made, which a later try finds mended. The
// server's words name the user and the client's host, never the password.
func UserRefused(err error) bool {
	return isMySQLError(err, errUserDenied, errDBDenied)
}
