package main

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// waitListening waits until the server whose log is logs says it listens.
// The deadline only bounds a hang.
func waitListening(t *testing.T, logs *testlog.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), `"msg":"listening"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not listen; the log says:\n%s", logs.String())
		}
	}
}

// listenRecording is net.Listen, for serveOn, keeping in addr the address
// it listens on (the server's on 127.0.0.1:0).
func listenRecording(addr *atomic.Value) func(network, a string) (net.Listener, error) {
	return func(network, a string) (net.Listener, error) {
		ln, err := net.Listen(network, a)
		if err == nil {
			addr.Store(ln.Addr().String())
		}
		return ln, err
	}
}
