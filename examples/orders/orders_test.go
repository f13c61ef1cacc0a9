package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// The example against a real server is tested in tests/examples_test.go;
// these are the parts that need none.

func TestRunRejectsBadFlagsBeforeDoingAnything(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-orders", "-1"}, "-orders"},
		{[]string{"-orders", "100000"}, "-orders"},
		{[]string{"-orders", "2", "extra"}, `"extra"`},
		{[]string{"-server", "localhost:8080"}, "http(s)://"},
	} {
		// Port 1 refuses connections: a run that got as far as the
		// server would fail, but with a connection error instead.
		args := append([]string{"-server", "http://127.0.0.1:1"}, tc.args...)
		err := run(context.Background(), args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("orders %s: expected an error naming %s, got %v", strings.Join(tc.args, " "), tc.want, err)
		}
	}
}
