package mysqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitQueued waits until n appends made on goroutines of test t's (started
// by its functions, or running one of them) wait for the writer to take
// them (the writer busy with the group before, held by a hook): then they
// go as the next group, in the order they came. A sleep let them queue
// under a light load only; a test that released the writer before they
// had got there ran them in other groups than it meant to, and failed at
// random. Nothing outside the writer says that a send waits for it, so this
// looks in the goroutines' stacks for the writer's hand-over (sqlstore's
// writer.hand); ctx's end, a safety bound, ends a wait that never comes.
// Subtests of one test share its functions' names: where they run in
// parallel, their appends count together, so a subtest that needs an exact
// count is not one to use it in.
func waitQueued(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	if err := awaitQueued(ctx, t.Name(), n); err != nil {
		t.Fatal(err)
	}
}

// waitTaken waits until n appends of test t's goroutines have been taken
// by the writer (handed over, their answer not yet given): in a group it
// runs now, so that appends made after them go in a later one.
func waitTaken(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for {
		got := appendsOf(t.Name(), true)
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d appends of %s were taken by the writer; want %d before the test goes on (%v)", got, t.Name(), n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// awaitQueued is waitQueued for a goroutine other than the test's (a hook
// the writer runs): it returns what failed rather than end the test.
func awaitQueued(ctx context.Context, test string, n int) error {
	for {
		got := appendsOf(test, false)
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d appends of %s wait for the writer to take them; want %d before it goes on (%w)", got, test, n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// appendsOf counts the goroutines of test's that wait in the writer's
// hand-over, or, taken, those the writer took and has not yet answered
// (in its append, past the hand-over).
func appendsOf(test string, taken bool) int {
	buf := make([]byte, 1<<20)
	for {
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	test, _, _ = strings.Cut(test, "/") // a subtest's functions are named for the test's
	// A frame of the test's own function or of one of its closures
	// (TestX.func2), or its "created by" line (TestX in goroutine 7).
	fn := "mysqlstore_test." + test
	ofTest := [][]byte{[]byte(fn + "("), []byte(fn + "."), []byte(fn + " ")}
	n := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		waiting := bytes.Contains(g, []byte("sqlstore.(*writer).hand("))
		if taken {
			waiting = !waiting && bytes.Contains(g, []byte("sqlstore.(*writer).append("))
		}
		if !waiting {
			continue
		}
		for _, f := range ofTest {
			if bytes.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}
