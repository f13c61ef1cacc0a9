package config

import (
	"strings"
	"testing"
)

func TestDebugAddrMustNotTakeThePublicAddress(t *testing.T) {
	tests := []struct {
		addr, debug string
		wantErr     string // "" when the pair is accepted
	}{
		{":8080", "", ""},
		{":8080", "127.0.0.1:6060", ""},
		{":8080", ":6060", ""},
		{"127.0.0.1:0", "127.0.0.1:0", ""}, // each gets a free port of its own
		{"127.0.0.1:8080", "10.0.0.1:8080", ""},
		{":8080", ":8080", "takes the public address"},
		{":8080", "127.0.0.1:8080", "takes the public address"},
		{"0.0.0.0:8080", "localhost:8080", "takes the public address"},
		{"127.0.0.1:8080", "[::]:8080", "takes the public address"},
		{"[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", "takes the public address"},
		{"localhost:8080", "localhost:8080", "takes the public address"},
		{":8080", "6060", "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" "+tt.debug, func(t *testing.T) {
			t.Setenv("TRIBUTARY_ADDR", tt.addr)
			t.Setenv("TRIBUTARY_DEBUG_ADDR", tt.debug)
			_, err := Load()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected no error, got %v", tt.addr, tt.debug, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("TRIBUTARY_ADDR=%q TRIBUTARY_DEBUG_ADDR=%q: expected an error containing %q, got %v", tt.addr, tt.debug, tt.wantErr, err)
			}
		})
	}
}
