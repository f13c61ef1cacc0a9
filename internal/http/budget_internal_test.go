package http

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestABodyThatFitsTheBudgetIsNeverRefusedForAnotherThatDoesNot: a read
// past the budget was counted, found too much and taken back, so that for
// a moment the budget looked spent to every other body: one that fitted,
// read in that moment, was refused with a 503 though nothing held its
// bytes. Here one body's reads never fit and another's always do.
func TestABodyThatFitsTheBudgetIsNeverRefusedForAnotherThatDoesNot(t *testing.T) {
	t.Parallel()
	b := &bodyBudget{limit: 100}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			big := budgetReader{r: strings.NewReader(strings.Repeat("x", 101)), b: b}
			if _, err := big.Read(make([]byte, 101)); !errors.Is(err, errBodyBudget) {
				t.Errorf("a read of 101 bytes with a budget of 100: %v; want errBodyBudget", err)
				return
			}
			big.release()
		}
	})
	refused := 0
	for range 200_000 {
		small := budgetReader{r: strings.NewReader("y"), b: b}
		if _, err := small.Read(make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
			refused++
		}
		small.release()
	}
	close(stop)
	wg.Wait()
	if refused > 0 {
		t.Errorf("reads of 1 byte, with none of a budget of 100 held: %d refused of 200,000; want none", refused)
	}
	if n := b.used.Load(); n != 0 {
		t.Errorf("the budget holds %d bytes once every body is released; want 0", n)
	}
}
