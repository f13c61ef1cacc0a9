package tests

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/faultproxy"
)

// buildOrdersExample builds examples/orders into the test's directory.
func buildOrdersExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orders")
	build := exec.Command("go", "build", "-o", bin, "github.com/tributary-dev/tributary/examples/orders")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/orders: %v\n%s", err, out)
	}
	return bin
}

// TestOrdersExampleRunsAgainstALiveServer runs examples/orders, as the
// README shows it, against the real binary: its aggregate saves with
// If-Match and retries after a conflict, and its projection's read model
// matches the orders loaded from their streams (the example checks that
// itself, and exits 1 if not).
func TestOrdersExampleRunsAgainstALiveServer(t *testing.T) {
	t.Parallel()
	bin := buildOrdersExample(t)
	forEachServer(t, func(t *testing.T, s *server) {
		for run := 1; run <= 2; run++ { // the second run's projection also reads the first's orders
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			out, err := exec.CommandContext(ctx, bin, "-server", s.URL, "-orders", "3").CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("run %d: go run ./examples/orders -server %s: %v; output:\n%s", run, s.URL, err, out)
			}
			for _, want := range []string{
				"conflict: order ", "with both clerks' lines",
				"the read model matches the 4 orders loaded from their streams",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("run %d: expected the output to say %q; it is:\n%s", run, want, out)
				}
			}
			wantSummary := []string{"", "4 orders: 2 placed, 1 paid, 1 shipped; revenue 40", "8 orders: 4 placed, 2 paid, 2 shipped; revenue 80"}[run]
			if !strings.Contains(string(out), wantSummary) {
				t.Errorf("run %d: expected the read model %q; output:\n%s", run, wantSummary, out)
			}
		}
	})
}

// TestOrdersExampleSavesOnceWhenAnAnswerIsLost: the connection of the first
// append of a line is cut once the server has the request, before its
// answer. The example sends the same events again, with the ids they were
// recorded with, and the server stores them once: the order has one line.
func TestOrdersExampleSavesOnceWhenAnAnswerIsLost(t *testing.T) {
	t.Parallel()
	bin := buildOrdersExample(t)
	forEachServer(t, func(t *testing.T, s *server) {
		proxy := faultproxy.Start(t, strings.TrimPrefix(s.URL, "http://"))
		cut := proxy.CutAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte(`"type":"LineAdded"`)) })
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "-server", "http://"+proxy.Addr(), "-orders", "1").CombinedOutput()
		select {
		case <-cut:
		case <-time.After(30 * time.Second): // the proxy closes cut just after the client's side
			t.Fatalf("the proxy cut no append; output:\n%s", out)
		}
		if err != nil {
			t.Fatalf("examples/orders -orders 1 through a proxy that lost an answer: %v; expected exit status 0, output:\n%s", err, out)
		}
		for _, want := range []string{"shipped, total 20, version 4", "the read model matches the 2 orders loaded from their streams"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("expected the output to say %q (the line stored once); it is:\n%s", want, out)
			}
		}
	})
}
