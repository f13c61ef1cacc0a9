package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTheSubscribersPhaseClientsRefuseARedirectToAnotherOrigin: the
// subscribers phase's clients (its subscriptions' and its writers') kept
// net/http's default, a redirect to any host: a subscription or an append
// redirected to another server was counted as the measured server's. As
// compare's client, they now refuse a redirect to another origin than
// the first request's, nothing sent there.
func TestTheSubscribersPhaseClientsRefuseARedirectToAnotherOrigin(t *testing.T) {
	t.Parallel()
	var strayed atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { strayed.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	l := newLoadTest(subscribersConfig{subscribers: 1, writers: 1}, nil, nil, nil)
	t.Cleanup(l.close)
	for name, c := range map[string]*http.Client{"subscriptions'": l.subClient, "writers'": l.writeClient} {
		resp, err := c.Get(srv.URL + "/events/subscribe")
		if err == nil {
			resp.Body.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "another origin") {
			t.Errorf("the %s client redirected to %s: %v; expected an error saying it is another origin", name, other.URL, err)
		}
	}
	if n := strayed.Load(); n != 0 {
		t.Errorf("%d requests at the redirect's target; expected none", n)
	}
}
