package mysqlstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestTLSModeIsReadFromTheDSN: the start said nothing of whether the
// connections to MySQL use TLS, nor that tls=skip-verify and tls=preferred
// take any certificate (and preferred, plain text). Each DSN's tls
// parameter gives its mode.
func TestTLSModeIsReadFromTheDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ params, want string }{
		{"", TLSOff},
		{"?tls=false", TLSOff},
		{"?tls=true", TLSVerified},
		{"?tls=1", TLSVerified},
		{"?tls=true&allowFallbackToPlaintext=true", TLSVerifiedOrPlain},
		{"?tls=skip-verify", TLSUnverified},
		{"?tls=preferred", TLSUnverifiedOrPlain},
		{"?tls=PREFERRED", TLSUnverifiedOrPlain},
	} {
		cfg, err := mysql.ParseDSN("u:p@tcp(db.example:3306)/events" + tc.params)
		if err != nil {
			t.Fatalf("%q: %v", tc.params, err)
		}
		if got := tlsMode(cfg); got != tc.want {
			t.Errorf("a DSN with %q: TLS %q; want %q", tc.params, got, tc.want)
		}
	}
}

// TestAnUntrustedCertificateAtStartSaysHowToTrustIt: tls=true against a
// server whose certificate a private CA signed (a cloud database's, a
// company's) failed with Go's words alone, "x509: certificate signed by
// unknown authority". The start's error says to give that CA's PEM file
// in SSL_CERT_FILE; one for another host says the DSN's host must be
// one the certificate names.
func TestAnUntrustedCertificateAtStartSaysHowToTrustIt(t *testing.T) {
	t.Parallel()
	cfg, err := mysql.ParseDSN("u:p@tcp(db.example:3306)/events?tls=true")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		says string
	}{
		{"signed by an unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "SSL_CERT_FILE"},
		{"for another host", &tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "db.example"}}, "host"},
	} {
		got := translateAtStart(fmt.Errorf("dial: %w", tc.err), cfg)
		if !errors.Is(got, tc.err) || !strings.Contains(got.Error(), tc.says) || !strings.Contains(got.Error(), "certificate") {
			t.Errorf("a certificate %s: %v; want it wrapped, saying %q", tc.name, got, tc.says)
		}
	}
}
