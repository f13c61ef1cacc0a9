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

// TestAClientsShareOfTheBodyBudgetIsGivenBack: a read refused for the
// whole budget takes nothing of its client's share, and a body released
// gives its client's share back, to the last byte.
func TestAClientsShareOfTheBodyBudgetIsGivenBack(t *testing.T) {
	t.Parallel()
	b := &bodyBudget{limit: 100, perClient: 80}
	a := budgetReader{r: strings.NewReader(strings.Repeat("x", 60)), b: b, client: "a"}
	if _, err := a.Read(make([]byte, 60)); err != nil {
		t.Fatalf("60 bytes of a, with a share of 80: %v; want them read", err)
	}
	if _, err := a.Read(make([]byte, 30)); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("nothing more of a: %v", err)
	}
	over := budgetReader{r: strings.NewReader(strings.Repeat("y", 30)), b: b, client: "a"}
	if _, err := over.Read(make([]byte, 30)); !errors.Is(err, errClientBodyBudget) {
		t.Fatalf("30 more bytes of a, holding 60 of its 80: %v; want errClientBodyBudget", err)
	}
	other := budgetReader{r: strings.NewReader(strings.Repeat("z", 50)), b: b, client: "b"}
	if _, err := other.Read(make([]byte, 50)); !errors.Is(err, errBodyBudget) {
		t.Fatalf("50 bytes of b, with 60 of 100 held: %v; want errBodyBudget", err)
	}
	if n := b.held["b"]; n != 0 {
		t.Errorf("b holds %d bytes of its share after a refused read; want 0", n)
	}
	over.release()
	other.release()
	a.release()
	if n, left := b.used.Load(), len(b.held); n != 0 || left != 0 {
		t.Errorf("once every body is released: %d bytes used, %d clients holding some; want none", n, left)
	}
}
