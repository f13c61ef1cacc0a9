package main

import (
	"strings"
	"testing"
)

func TestDialAddrReachesAServerOnAllInterfacesOnLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen, want, wantErr string
	}{
		{":8080", "127.0.0.1:8080", ""},
		{"0.0.0.0:8080", "127.0.0.1:8080", ""},
		{"[::]:8080", "127.0.0.1:8080", ""},
		{"127.0.0.1:9000", "127.0.0.1:9000", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"api.internal:8080", "api.internal:8080", ""},
		{":http", "127.0.0.1:80", ""}, // a URL takes no service name
		{"[::1]:https", "[::1]:443", ""},
		{"127.0.0.1:0", "", "no fixed port"},
		{"8080", "", "missing port"},
	}
	for _, tt := range tests {
		got, err := dialAddr(tt.listen)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("dialAddr(%q): expected an error containing %q, got %q, %v", tt.listen, tt.wantErr, got, err)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("dialAddr(%q): expected %q, got %q, %v", tt.listen, tt.want, got, err)
		}
	}
}
