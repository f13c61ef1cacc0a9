package mysqlstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestAnUntrustedCertificateWithSSLCertFileSetSaysWhatIsWrongWithTheFile:
// with SSL_CERT_FILE set to a file that is missing, unreadable or holds no
// PEM certificate (a secret not mounted, a typo), Go drops it without a
// word, and the start's error said to "set SSL_CERT_FILE", which was set.
// The error now says what is wrong with the file the variable names, or,
// where it holds certificates, that none of them signed the server's.
func TestAnUntrustedCertificateWithSSLCertFileSetSaysWhatIsWrongWithTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	for _, tc := range []struct {
		name, certFile, says string
	}{
		{"unset", "", "set SSL_CERT_FILE to its PEM file"},
		{"a missing file", filepath.Join(dir, "missing.pem"), "SSL_CERT_FILE is set, but its file cannot be read"},
		{"a directory", dir, "SSL_CERT_FILE is set, but its file cannot be read"},
		{"a file of no PEM certificate", notPEM, "SSL_CERT_FILE is set, but its file holds no PEM certificate"},
		{"another CA's file", otherCA, "none of the certificates in SSL_CERT_FILE's file"},
	} {
		got := untrustedCA(fmt.Errorf("dial: %w", unknown), tc.certFile, "linux")
		if !errors.Is(got, unknown) || !strings.Contains(got.Error(), tc.says) {
			t.Errorf("SSL_CERT_FILE %s: %v; want it wrapped, saying %q", tc.name, got, tc.says)
		}
		if tc.certFile != "" && strings.Contains(got.Error(), "set SSL_CERT_FILE to") {
			t.Errorf("SSL_CERT_FILE %s: %v; told to set it, which it is", tc.name, got)
		}
	}
}

// TestAnUntrustedCertificateAtStartGivesTheAdviceThatFitsTheSystem: the
// start's error for a certificate of an untrusted CA said to set
// SSL_CERT_FILE on macOS and Windows too, where Go does not read it (it
// verifies with the keychains, the certificate store), while the warning
// of an unverified TLS mode there said so: both now give PrivateCAAdvice,
// and on those systems never send the operator to SSL_CERT_FILE's file.
func TestAnUntrustedCertificateAtStartGivesTheAdviceThatFitsTheSystem(t *testing.T) {
	t.Parallel()
	unknown := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		goos      string
		want, not []string
	}{
		{"linux", []string{"set SSL_CERT_FILE to its PEM file"}, []string{"keychain"}},
		{"freebsd", []string{"set SSL_CERT_FILE to its PEM file"}, nil},
		{"darwin", []string{"keychain", "SSL_CERT_FILE is not read on macOS"}, []string{"set SSL_CERT_FILE", "mount"}},
		{"ios", []string{"keychain"}, []string{"set SSL_CERT_FILE", "mount"}},
		{"windows", []string{"certificate store", "SSL_CERT_FILE is not read on Windows"}, []string{"set SSL_CERT_FILE", "mount"}},
	} {
		advice := PrivateCAAdvice(tc.goos)
		for _, certFile := range []string{"", missing} {
			got := untrustedCA(fmt.Errorf("dial: %w", unknown), certFile, tc.goos)
			if !errors.Is(got, unknown) {
				t.Errorf("on %s, SSL_CERT_FILE %q: %v; want the certificate's error wrapped", tc.goos, certFile, got)
			}
			if certFile == "" && !strings.Contains(got.Error(), advice) {
				t.Errorf("on %s: %v; expected the advice the warnings give, %q", tc.goos, got, advice)
			}
			if certFile != "" && (tc.goos == "linux" || tc.goos == "freebsd") {
				continue // the file is read there: the error says what is wrong with it
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("on %s, SSL_CERT_FILE %q: %v; expected it to say %q", tc.goos, certFile, got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got.Error(), n) {
					t.Errorf("on %s, SSL_CERT_FILE %q: %v; expected it not to say %q, which does not help there", tc.goos, certFile, got, n)
				}
			}
		}
	}
}
