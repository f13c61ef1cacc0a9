package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDialAddrsReachesAServerOnAllInterfacesOnLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen, want, wantErr string
	}{
		{":8080", "127.0.0.1:8080 [::1]:8080", ""},
		{"0.0.0.0:8080", "127.0.0.1:8080 [::1]:8080", ""},
		{"[::]:8080", "127.0.0.1:8080 [::1]:8080", ""},
		{"127.0.0.1:9000", "127.0.0.1:9000", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"api.internal:8080", "api.internal:8080", ""},
		{":http", "127.0.0.1:80 [::1]:80", ""}, // a URL takes no service name
		{"[::1]:https", "[::1]:443", ""},
		{"127.0.0.1:0", "", "no fixed port"},
		{"8080", "", "missing port"},
	}
	for _, tt := range tests {
		addrs, err := dialAddrs(tt.listen)
		got := strings.Join(addrs, " ")
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("dialAddrs(%q): expected an error containing %q, got %q, %v", tt.listen, tt.wantErr, got, err)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("dialAddrs(%q): expected %q, got %q, %v", tt.listen, tt.want, got, err)
		}
	}
}

// TestHealthcheckOfAllInterfacesReachesAServerOnIPv6LoopbackOnly: with
// TRIBUTARY_ADDR=[::]:port the check dialled 127.0.0.1 alone, so on a host
// without IPv4 loopback (IPv6 only) a ready server was reported not ready
// and its container restarted. Refused on 127.0.0.1, it tries [::1].
func TestHealthcheckOfAllInterfacesReachesAServerOnIPv6LoopbackOnly(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"ready"}`)
	}))
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, listen := range []string{"[::]:" + port, ":" + port, "0.0.0.0:" + port} {
		var out strings.Builder
		if err := healthcheck(context.Background(), listen, &out); err != nil || !strings.Contains(out.String(), "ready: GET http://[::1]:"+port+"/readyz: 200") {
			t.Errorf("healthcheck of %s, a server on [::1] only: expected it ready on [::1]; got %v, %q", listen, err, out.String())
		}
	}
}
