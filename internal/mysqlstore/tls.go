package mysqlstore

import "github.com/go-sql-driver/mysql"

// How a store's connections to MySQL use TLS, from its DSN's tls parameter
// (and allowFallbackToPlaintext): TLS, TLSMode's values.
const (
	// TLSOff is no tls parameter, or tls=false: plain text.
	TLSOff = "off"
	// TLSVerified is tls=true: the server's certificate is verified
	// against the system's roots (SSL_CERT_FILE, SSL_CERT_DIR).
	TLSVerified = "verified"
	// TLSVerifiedOrPlain is tls=true with allowFallbackToPlaintext=true:
	// plain text where the server offers no TLS.
	TLSVerifiedOrPlain = "verified, or plain text where the server offers none"
	// TLSUnverified is tls=skip-verify: encrypted, but any certificate is
	// taken, a man in the middle's too.
	TLSUnverified = "unverified (skip-verify)"
	// TLSUnverifiedOrPlain is tls=preferred: unverified, and plain text
	// where the server offers no TLS.
	TLSUnverifiedOrPlain = "unverified, or plain text where the server offers none (preferred)"
)

// tlsMode is how the connections of cfg, a parsed DSN, use TLS.
func tlsMode(cfg *mysql.Config) string {
	switch {
	case cfg.TLS == nil:
		return TLSOff
	case cfg.TLS.InsecureSkipVerify && cfg.AllowFallbackToPlaintext:
		return TLSUnverifiedOrPlain
	case cfg.TLS.InsecureSkipVerify:
		return TLSUnverified
	case cfg.AllowFallbackToPlaintext:
		return TLSVerifiedOrPlain
	}
	return TLSVerified
}

// TLS is how the store's connections to the primary use TLS (TLSOff, …),
// from TRIBUTARY_MYSQL_DSN: what an operator reads at start, never the DSN.
func (s *Store) TLS() string { return tlsMode(s.cfg) }

// ReadTLS is TLS for the read replica's connections, from
// TRIBUTARY_MYSQL_READ_DSN; "" where there is no replica.
func (s *Store) ReadTLS() string {
	if s.replica == nil {
		return ""
	}
	return tlsMode(s.replica)
}
