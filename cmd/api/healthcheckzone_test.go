package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
)

// TestHealthcheckReachesAnIPv6AddressWithAZone: TRIBUTARY_ADDR takes an
// IPv6 address with its zone ([fe80::1%eth0]:8080, a link-local one's);
// the healthcheck wrote it into its URL as it is, where a URL's zone is
// %25-escaped, so the request was refused as no URL ("invalid URL escape")
// and the container reported unhealthy a server that was ready.
func TestHealthcheckReachesAnIPv6AddressWithAZone(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1%lo]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback with a zone here: %v", err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"ready"}`)
	}))
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	listen := "[::1%lo]:" + port
	t.Setenv(config.Var("Addr"), listen)
	if _, err := config.Load(); err != nil && strings.Contains(err.Error(), config.Var("Addr")) {
		t.Skipf("the configuration refuses %s: %v", listen, err)
	}
	var out strings.Builder
	if err := healthcheck(context.Background(), listen, &out); err != nil || !strings.Contains(out.String(), ": 200") {
		t.Errorf("healthcheck of %s, a server listening there: expected it ready; got %v, %q", listen, err, out.String())
	}
}
