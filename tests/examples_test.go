package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOrdersExampleRunsAgainstALiveServer runs examples/orders, as the
// README shows it, against the real binary: its aggregate saves with
// If-Match and retries after a conflict, and its projection's read model
// matches the orders loaded from their streams (the example checks that
// itself, and exits 1 if not).
func TestOrdersExampleRunsAgainstALiveServer(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "orders")
	build := exec.Command("go", "build", "-o", bin, "github.com/tributary-dev/tributary/examples/orders")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/orders: %v\n%s", err, out)
	}
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
