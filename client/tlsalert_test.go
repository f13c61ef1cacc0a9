package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestSubscribeEndsAtATLSAlertThatNoRetryMends: a server whose handshake
// refuses the client's configuration (it wants a client certificate the
// client does not send, it speaks no TLS version or cipher suite the
// client offers) answers with a TLS alert, which a subscription took for
// a network error and retried for ever, though the next handshake meets
// it again, as it does a certificate it does not trust. Such an alert
// now ends the subscription at the first attempt with an error that says
// the handshake was refused and wraps the cause.
func TestSubscribeEndsAtATLSAlertThatNoRetryMends(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		server, client func(*tls.Config)
	}{
		"a client certificate required, TLS 1.3": {
			server: func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert },
		},
		"a client certificate required, TLS 1.2": {
			server: func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert },
			client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		},
		"no TLS version in common": {
			server: func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 },
			client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		},
		"no cipher suite in common": {
			server: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			},
			client: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var handled atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handled.Add(1)
				startEventStream(w)
			}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes it refuses
			srv.TLS = &tls.Config{}
			tc.server(srv.TLS)
			srv.StartTLS()
			t.Cleanup(srv.Close)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			if tc.client != nil {
				tc.client(tr.TLSClientConfig)
			}
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: tr}))
			last := endedAtOnce(t, c)
			switch {
			case !strings.Contains(last.Error(), "TLS handshake"):
				t.Errorf("ended with %v; expected an error that says the TLS handshake was refused", last)
			}
			if n := handled.Load(); n != 0 {
				t.Errorf("the server handled %d requests; expected none, its handshake refused each time", n)
			}
		})
	}
}

// TestSubscribeWaitsOutATLSAlertOfTheConnection: an alert that may be the
// connection's rather than the configuration's (internal_error, a record
// that failed its check) is still waited out like any network error.
func TestSubscribeWaitsOutATLSAlertOfTheConnection(t *testing.T) {
	t.Parallel()
	for name, alert := range map[string]byte{"internal_error": 80, "bad_record_mac": 20} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := tcptest.Serve(t, func(conn net.Conn) {
				// Past the ClientHello's first bytes, a fatal alert record.
				conn.Read(make([]byte, 5))                                 //nolint:errcheck // a test's server
				conn.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 2, alert}) //nolint:errcheck // a test's server
			})
			c := newClient(t, "https://"+addr)
			// Cancelled once it has come back after the alert (a second
			// disconnection): counted, not timed. The timeout is a safety net.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var tries atomic.Int64
			var first error
			var last error
			for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
				OnDisconnect: func(err error, _ time.Duration) {
					switch tries.Add(1) {
					case 1:
						first = err
					case 2:
						cancel()
					}
				}}) {
				last = err
				break
			}
			if !errors.Is(last, context.Canceled) || tries.Load() < 2 || first == nil || !strings.Contains(first.Error(), "tls") {
				t.Errorf("ended with %v after %d retries, the first for %v; expected the alert waited out until the test cancelled after the second", last, tries.Load(), first)
			}
		})
	}
}

// TestSubscribeEndsWhenTheSystemRootsCannotBeLoaded: without roots of its
// own, a client verifies the server's certificate with the system's,
// which may fail to load (x509.SystemRootsError: a bad SSL_CERT_FILE, a
// container without them). That is the client's configuration, met
// again by every handshake: the subscription ends at the first attempt
// with an error that says so, not that the server's certificate is
// untrusted, and wraps the cause. The system roots load once a process,
// so the test runs itself again with SSL_CERT_FILE naming a directory.
func TestSubscribeEndsWhenTheSystemRootsCannotBeLoaded(t *testing.T) {
	if os.Getenv("TRIBUTARY_CLIENT_TEST_NO_ROOTS") == "" {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSubscribeEndsWhenTheSystemRootsCannotBeLoaded$", "-test.v")
		cmd.Env = append(os.Environ(), "TRIBUTARY_CLIENT_TEST_NO_ROOTS=1",
			"SSL_CERT_FILE="+dir, "SSL_CERT_DIR="+filepath.Join(dir, "none"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test run without system roots: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("the test run without system roots did not pass:\n%s", out)
		}
		return
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the client refuses
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	last := endedAtOnce(t, c)
	var roots x509.SystemRootsError
	switch {
	case !errors.As(last, &roots):
		t.Errorf("ended with %v; expected it to wrap an x509.SystemRootsError", last)
	case !strings.Contains(last.Error(), "system's root certificates") || strings.Contains(last.Error(), "not trusted"):
		t.Errorf("ended with %v; expected an error that says the system's root certificates could not be loaded, not that the server's certificate is untrusted", last)
	}
}

// TestAlertNumberReadsEveryAlertAServerSends: a fatal alert of each
// number, sent by a server in answer to the ClientHello, fails the
// client's handshake with an error whose alert number alertNumber reads,
// as it reads a tls.AlertError (QUIC's); other errors are no alert. It
// read crypto/tls's unexported alert type through reflect; it now reads
// it through the exported tls.AlertError alone.
func TestAlertNumberReadsEveryAlertAServerSends(t *testing.T) {
	t.Parallel()
	for n := 1; n < 256; n++ { // 0, close_notify, is the end of the stream
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			head := make([]byte, 5)
			if _, err := io.ReadFull(server, head); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, server, int64(head[3])<<8|int64(head[4])); err != nil {
				return
			}
			server.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 2, byte(n)}) //nolint:errcheck // a test's server
		}()
		err := tls.Client(client, &tls.Config{ServerName: "example.com"}).Handshake()
		client.Close()
		if a, ok := alertNumber(err); !ok || int(a) != n {
			t.Errorf("alert %d: the handshake failed with %v, read as alert %d, %v; expected alert %d", n, err, a, ok, n)
		}
		if a, ok := alertNumber(fmt.Errorf("dial: %w", tls.AlertError(n))); !ok || int(a) != n {
			t.Errorf("tls.AlertError(%d) read as alert %d, %v; expected %d", n, a, ok, n)
		}
	}
	for _, err := range []error{io.EOF, &net.OpError{Op: "read", Err: errors.New("tls: bad certificate")}, &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}} {
		if a, ok := alertNumber(err); ok {
			t.Errorf("%v read as alert %d; expected no alert", err, a)
		}
	}
}
