package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

const (
	keptSecret    = "kept-0123456789abcdef"
	removedSecret = "gone-0123456789abcdef"
	addedSecret   = "new1-0123456789abcdef"
	rotatedOld    = "rot1-0123456789abcdef"
	rotatedNew    = "rot2-0123456789abcdef"
)

// accessServer serves a store with the tokens of entries under an Access
// the test replaces.
func accessServer(t *testing.T, entries string) (*httptest.Server, *esthttp.Access) {
	t.Helper()
	access := esthttp.NewAccess(mustTokens(t, entries))
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	go feed.Run(ctx)
	srv := httptest.NewServer(esthttp.New(feed.Notifying(store), esthttp.Options{Access: access, Feed: feed, Heartbeat: time.Hour}))
	t.Cleanup(func() { srv.Close(); cancel() })
	return srv, access
}

func mustTokens(t *testing.T, entries string) []esthttp.Token {
	t.Helper()
	tokens, err := esthttp.ParseTokens(entries)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func statusWith(t *testing.T, url, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplacedTokensApplyToTheNextRequest: a token removed from the
// tokens file was accepted until a restart, and one added refused (401).
// Replace makes the new set the one the next request is checked against,
// and says what changed by name.
func TestReplacedTokensApplyToTheNextRequest(t *testing.T) {
	t.Parallel()
	srv, access := accessServer(t, "ops:read:"+keptSecret+",leaked:read:"+removedSecret+",ci:read:"+rotatedOld)
	for _, secret := range []string{keptSecret, removedSecret, rotatedOld} {
		if got := statusWith(t, srv.URL, secret); got != http.StatusOK {
			t.Fatalf("before the replace: expected 200 for each token of the set; got %d", got)
		}
	}
	changes, err := access.Replace(mustTokens(t, "ops:read:"+keptSecret+",ci:read:"+rotatedNew+",new:write:"+addedSecret))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(changes.Added, ",") != "new" || strings.Join(changes.Removed, ",") != "leaked" || strings.Join(changes.Changed, ",") != "ci" {
		t.Errorf("changes: expected added [new], removed [leaked], changed [ci]; got %+v", changes)
	}
	for secret, want := range map[string]int{keptSecret: 200, addedSecret: 200, rotatedNew: 200, removedSecret: 401, rotatedOld: 401} {
		if got := statusWith(t, srv.URL, secret); got != want {
			t.Errorf("after the replace, the token %.4s…: expected %d; got %d", secret, want, got)
		}
	}
	// A leaked token, revoked, that its finder sends is still redacted
	// from the logs.
	if got := access.Redact("/streams/" + removedSecret); strings.Contains(got, removedSecret) {
		t.Errorf("Redact after its token's removal: expected it REDACTED; got %q", got)
	}
	if got := access.Redact("/streams/" + addedSecret); strings.Contains(got, addedSecret) {
		t.Errorf("Redact of an added token: expected it REDACTED; got %q", got)
	}
}

// TestReplaceRefusesAnEmptySet: a tokens file emptied must not turn
// access control off while the server runs.
func TestReplaceRefusesAnEmptySet(t *testing.T) {
	t.Parallel()
	srv, access := accessServer(t, "ops:read:"+keptSecret)
	if _, err := access.Replace(nil); err == nil {
		t.Error("Replace(no tokens): expected an error; got none")
	}
	if got := statusWith(t, srv.URL, keptSecret); got != http.StatusOK {
		t.Errorf("after a refused replace: expected the old token still accepted (200); got %d", got)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after a refused replace, no token: expected 401; got %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// subscribeWith opens a subscription of the log with secret and reads its
// first frame (the retry), so that it is open.
func subscribeWith(t *testing.T, url, secret string) *ssetest.Parser {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: expected 200; got %d", resp.StatusCode)
	}
	p := ssetest.NewParser(resp.Body, "")
	if f, _, err := p.Next(); err != nil || f.Retry == "" {
		t.Fatalf("subscribe: expected a retry frame first; got %v, %v", f, err)
	}
	return p
}

// TestASubscriptionWhoseTokenIsRemovedEnds: a subscription opened with a
// token went on after the token was revoked, for as long as its client
// stayed. It ends at the Replace that removes the token (or changes its
// secret), with a last problem event (401), while one whose token stays
// goes on.
func TestASubscriptionWhoseTokenIsRemovedEnds(t *testing.T) {
	t.Parallel()
	srv, access := accessServer(t, "ops:write:"+keptSecret+",leaked:read:"+removedSecret+",ci:read:"+rotatedOld)
	kept, removed, rotated := subscribeWith(t, srv.URL, keptSecret), subscribeWith(t, srv.URL, removedSecret), subscribeWith(t, srv.URL, rotatedOld)
	if _, err := access.Replace(mustTokens(t, "ops:write:"+keptSecret+",ci:read:"+rotatedNew)); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*ssetest.Parser{"removed": removed, "rotated": rotated} {
		done := make(chan string, 1)
		go func() {
			var frames []string
			for {
				f, _, err := p.Next()
				if err != nil {
					done <- strings.Join(frames, "") + "<end: " + err.Error() + ">"
					return
				}
				frames = append(frames, "["+f.Event+"] "+f.Data+"\n")
			}
		}()
		select {
		case got := <-done:
			if !strings.Contains(got, "[problem] {") || !strings.Contains(got, `"status":401`) || !strings.HasSuffix(got, "<end: EOF>") {
				t.Errorf("the subscription of the %s token: expected a problem event (401), then the body's clean end; got %q", name, got)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the subscription of the %s token: still open 30 s after its token's removal", name)
		}
	}
	// The kept token's subscription still delivers.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/streams/0d9c1f4e-6b1a-4b8e-9a57-2f6a1c3d4e5f/events",
		strings.NewReader(`{"stream_type":"order","events":[{"type":"Shown","data":{}}]}`))
	req.Header.Set("Authorization", "Bearer "+keptSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("append with the kept token: expected 201; got %d", resp.StatusCode)
	}
	got := make(chan string, 1)
	go func() {
		for {
			f, _, err := kept.Next()
			if err != nil || f.HasData && f.Event == "" {
				got <- f.Data
				return
			}
		}
	}()
	select {
	case f := <-got:
		if !strings.Contains(f, "Shown") {
			t.Errorf("the kept token's subscription: expected the appended event; got %q", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the kept token's subscription: no event 30 s after an append")
	}
}
