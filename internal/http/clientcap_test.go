package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestOneClientCannotTakeEverySubscriptionPlace: TRIBUTARY_MAX_SUBSCRIBERS
// bounds an instance's subscriptions, and one client (a script that opens
// subscriptions in a loop and never closes them) could take every place, so
// that every other client's subscription was answered 503. A client, one
// token, or one address where access control is off, now holds at most
// TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT (half the total by default); past
// it, its own subscriptions are answered 503 unavailable with Retry-After,
// while other clients still subscribe, and it gets a place back as soon as
// it closes one. On both stores.
func TestOneClientCannotTakeEverySubscriptionPlace(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		t.Run("by address", func(t *testing.T) {
			t.Parallel()
			// No per-client setting: half of the 4 places.
			_, _, srv := liveServerOf(t, k, esthttp.Options{OpenAPI: api.OpenAPI, MaxSubscribers: 4}, nil)
			one, other := subscriberFrom(t, "127.0.0.1"), subscriberFrom(t, "127.0.0.2")
			first := expectSubscribed(t, one, srv.URL, "", "the first subscription of 127.0.0.1")
			expectSubscribed(t, one, srv.URL, "", "the second subscription of 127.0.0.1")
			expectRefusedForItsShare(t, one, srv.URL, "", "the third subscription of 127.0.0.1")
			expectSubscribed(t, other, srv.URL, "", "a subscription of 127.0.0.2, beside 127.0.0.1's two")
			first() // 127.0.0.1 closes one: its place is its own again
			expectSubscribedSoon(t, one, srv.URL, "", "a subscription of 127.0.0.1 after it closed one")
		})
		t.Run("by token", func(t *testing.T) {
			t.Parallel()
			tokens, err := esthttp.ParseTokens("app:read:r-0123456789abcdef,other:read:o-0123456789abcdef")
			if err != nil {
				t.Fatal(err)
			}
			_, _, srv := liveServerOf(t, k, esthttp.Options{OpenAPI: api.OpenAPI, MaxSubscribers: 10, MaxSubscribersPerClient: 2, Tokens: tokens}, nil)
			a, b := subscriberFrom(t, "127.0.0.1"), subscriberFrom(t, "127.0.0.2")
			expectSubscribed(t, a, srv.URL, "r-0123456789abcdef", "app's first subscription")
			expectSubscribed(t, b, srv.URL, "r-0123456789abcdef", "app's second, from another address")
			expectRefusedForItsShare(t, a, srv.URL, "r-0123456789abcdef", "app's third")
			expectSubscribed(t, a, srv.URL, "o-0123456789abcdef", "other's first, from app's address")
		})
	})
}

// subscriberFrom returns a client whose connections come from the loopback
// address ip. (The contract's transport reads a body to its end, which a
// subscription's never reaches: the 503 is checked by hand.)
func subscriberFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// subscribe opens a subscription to /events with token (if not empty) and
// returns the response, whose body the test's cleanup closes.
func subscribe(t *testing.T, client *http.Client, base, token string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp
}

// expectSubscribed subscribes and expects it to open; the func it returns
// closes the subscription.
func expectSubscribed(t *testing.T, client *http.Client, base, token, what string) func() {
	t.Helper()
	resp := subscribe(t, client, base, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d, want 200", what, resp.StatusCode)
	}
	readToCaughtUp(t, resp.Body)
	return func() { resp.Body.Close() }
}

// expectSubscribedSoon is expectSubscribed for a place being given back:
// it tries for a few seconds.
func expectSubscribedSoon(t *testing.T, client *http.Client, base, token, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp := subscribe(t, client, base, token)
		if resp.StatusCode == http.StatusOK {
			readToCaughtUp(t, resp.Body)
			return
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d 5 s later, want 200", what, resp.StatusCode)
		}
	}
}

// expectRefusedForItsShare subscribes and expects a 503 problem with
// Retry-After that says the client holds its share.
func expectRefusedForItsShare(t *testing.T, client *http.Client, base, token, what string) {
	t.Helper()
	resp := subscribe(t, client, base, token)
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("%s: 200, a subscription; want 503 unavailable with Retry-After, naming TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT", what)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("%s: %d, not a problem: %v", what, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || p.Type != esthttp.ProblemBase+"unavailable" ||
		!strings.Contains(p.Detail, "TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT") {
		t.Fatalf("%s: %d %s, Retry-After %q, %+v; want 503 unavailable with Retry-After, naming TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT",
			what, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), p)
	}
}

// TestASubscriptionRefusedForALimitIsNoErrorInTheLog: a subscription
// refused because its client holds its share, or the instance every place,
// is answered 503 like an outage, and was logged at ERROR like one: a script
// that retried in a loop filled the error log and woke whoever alerts on
// it. Neither is a fault of the server: WARN, with the access log's line.
func TestASubscriptionRefusedForALimitIsNoErrorInTheLog(t *testing.T) {
	t.Parallel()
	atEitherSubscriptionCap(t, func(t *testing.T, opts esthttp.Options) {
		logs := &testlog.Buffer{}
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		_, _, srv := liveServerOf(t, teststore.SQLite, opts, nil)
		one := subscriberFrom(t, "127.0.0.1")
		expectSubscribed(t, one, srv.URL, "", "the first subscription")
		resp := subscribe(t, one, srv.URL, "")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("the second subscription: %d, want 503", resp.StatusCode)
		}
		resp.Body.Close()
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("a refused subscription logged an error: %s", line)
			}
		}
		if !strings.Contains(logs.String(), `"level":"WARN","msg":"request failed"`) {
			t.Errorf("a refused subscription logged no warning; the log:\n%s", logs)
		}
	})
}

// atEitherSubscriptionCap runs test, in a parallel subtest, once for each
// way a client meets a subscription cap with its second subscription: its
// client's share (one a client) and the instance's limit (one in all).
// opts holds that cap, and the OpenAPI document.
func atEitherSubscriptionCap(t *testing.T, test func(t *testing.T, opts esthttp.Options)) {
	t.Helper()
	for name, opts := range map[string]esthttp.Options{
		"the client's share":   {MaxSubscribers: 10, MaxSubscribersPerClient: 1},
		"the instance's limit": {MaxSubscribers: 1, MaxSubscribersPerClient: 5},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts.OpenAPI = api.OpenAPI
			test(t, opts)
		})
	}
}

// TestAHeadOfASubscriptionAtEitherCapAnswersAsItsGet: a HEAD of a
// subscription route is a GET without its body (RFC 9110 §9.3.2), and
// was answered 200 with a text/event-stream where the GET, at the
// instance's limit or the client's share, is a 503 (a review found it): a
// client or a monitor that asks with HEAD whether it may subscribe was
// told yes. It is now answered as the GET, status and headers, and, as
// before, takes no place: below either cap a HEAD is a 200 and the GETs
// after it still find theirs. On both stores, on both routes.
func TestAHeadOfASubscriptionAtEitherCapAnswersAsItsGet(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		atEitherSubscriptionCap(t, func(t *testing.T, opts esthttp.Options) {
			_, _, srv := liveServerOf(t, k, opts, nil)
			one := subscriberFrom(t, "127.0.0.1")
			for _, path := range []string{"/events", "/streams/" + uuid.NewString() + "/events"} {
				if r := askEvents(t, one, http.MethodHead, srv.URL+path); r.StatusCode != http.StatusOK {
					t.Fatalf("HEAD %s below the cap: %d, want 200", path, r.StatusCode)
				}
			}
			closeIt := expectSubscribed(t, one, srv.URL, "", "the one subscription the cap lets through, after the HEADs")
			for _, path := range []string{"/events", "/streams/" + uuid.NewString() + "/events"} {
				get, head := askEvents(t, one, http.MethodGet, srv.URL+path), askEvents(t, one, http.MethodHead, srv.URL+path)
				if get.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("GET %s at the cap: %d, want 503", path, get.StatusCode)
				}
				if head.StatusCode != get.StatusCode {
					t.Errorf("HEAD %s at the cap: %d, want %d as its GET", path, head.StatusCode, get.StatusCode)
				}
				for _, h := range []string{"Content-Type", "Content-Length", "Retry-After", "Vary", "Cache-Control", "X-Accel-Buffering"} {
					if g, hd := get.Header.Values(h), head.Header.Values(h); !slices.Equal(g, hd) {
						t.Errorf("HEAD %s at the cap: %s %q, want %q as its GET", path, h, hd, g)
					}
				}
			}
			closeIt()
			expectSubscribedSoon(t, one, srv.URL, "", "a subscription once the one open closed")
		})
	})
}

// askEvents sends method to url asking for an event stream, and returns
// its answer with the body read (a subscription's: none, it is closed).
func askEvents(t *testing.T, client *http.Client, method, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp
}

// TestABadSubscriptionIsABadRequestAtEitherCap: at the client's share of
// subscriptions, a subscription with a bad parameter (after=zz) was
// answered 503, to try again, where below it, or at the instance's limit,
// it is a 400: the client's cap was a middleware before the handler's
// checks. A bad request is told it is bad whatever the load. On both
// stores, on both routes, GET and HEAD. From a black-box tester.
func TestABadSubscriptionIsABadRequestAtEitherCap(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		atEitherSubscriptionCap(t, func(t *testing.T, opts esthttp.Options) {
			_, _, srv := liveServerOf(t, k, opts, nil)
			one := subscriberFrom(t, "127.0.0.1")
			expectSubscribed(t, one, srv.URL, "", "the one subscription the cap lets through")
			id := uuid.NewString()
			for _, bad := range []struct{ path, header, value string }{
				{"/events?after=zz", "", ""},
				{"/events?limit=0", "", ""},
				{"/events?stream_type=1a", "", ""},
				{"/events?no_such=1", "", ""},
				{"/events", "Last-Event-ID", "zz"},
				{"/events", esthttp.MinPositionHeader, "zz"},
				{"/streams/not-a-uuid/events", "", ""},
				{"/streams/" + id + "/events?from=zz", "", ""},
				{"/streams/" + id + "/events?direction=backward", "", ""},
				{"/streams/" + id + "/events", "Last-Event-ID", "-1"},
			} {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					req, err := http.NewRequest(method, srv.URL+bad.path, nil)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Accept", "text/event-stream")
					if bad.header != "" {
						req.Header.Set(bad.header, bad.value)
					}
					resp, err := one.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Retry-After") != "" {
						t.Errorf("%s %s (%s %q) at the cap: %d, Retry-After %q; want 400 without Retry-After, as below the cap",
							method, bad.path, bad.header, bad.value, resp.StatusCode, resp.Header.Get("Retry-After"))
					}
				}
			}
		})
	})
}

// TestARefusalForAClientsShareIsLoggedNamingTheClient: a subscription or
// an append refused because its client holds its share (of
// TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT, of
// TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT) was logged with "this
// client's address" and no address, so an operator could not tell whom
// to act on; a connection refused at its client's bound names it. Its
// "request failed" line now says "client": the address (an IPv6 one's
// /64), or, where access control is on, the token's holder.
func TestARefusalForAClientsShareIsLoggedNamingTheClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, token string
		tokens      string
		want        string
	}{
		{name: "by address", want: "127.0.0.2"},
		{name: "by token", token: "r-0123456789abcdef", tokens: "app:read:r-0123456789abcdef", want: "token app"},
	} {
		t.Run("subscriptions, "+tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &testlog.Buffer{}
			opts := esthttp.Options{OpenAPI: api.OpenAPI, MaxSubscribers: 10, MaxSubscribersPerClient: 1,
				Logger: slog.New(slog.NewJSONHandler(logs, nil))}
			if tc.tokens != "" {
				opts.Tokens = mustParseTokens(t, tc.tokens)
			}
			_, _, srv := liveServerOf(t, teststore.SQLite, opts, nil)
			one := subscriberFrom(t, "127.0.0.2")
			expectSubscribed(t, one, srv.URL, tc.token, "the first subscription")
			expectRefusedForItsShare(t, one, srv.URL, tc.token, "the second subscription")
			if got := refusedClient(t, logs); got != tc.want {
				t.Errorf("the refusal's line names client %q; want %q", got, tc.want)
			}
		})
	}
	t.Run("request bodies, by address", func(t *testing.T) {
		t.Parallel()
		logs := &testlog.Buffer{}
		srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{MaxBodyBytes: 1000, MaxBodyBytesInFlight: 4000,
			MaxClientBytesInFlight: 2000, Metrics: metrics.New("test"), Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
		t.Cleanup(srv.Close)
		for range 2 {
			stallUpload(t, srv.Listener.Addr().String(), 1000, 950)
		}
		waitForBodies(t, srv.URL, 1900)
		body := `{"stream_type":"order","events":[{"type":"A","data":"` + strings.Repeat("z", 900) + `"}]}`
		resp, err := http.Post(srv.URL+"/streams/"+uuid.NewString()+"/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("an append past 127.0.0.1's share: %d; want 503", resp.StatusCode)
		}
		if got := refusedClient(t, logs); got != "127.0.0.1" {
			t.Errorf("the refusal's line names client %q; want %q", got, "127.0.0.1")
		}
	})
}

// refusedClient waits for the "request failed" line of a refusal and
// returns the client it names.
func refusedClient(t *testing.T, logs *testlog.Buffer) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(logs.String()) {
			var entry struct{ Msg, Client string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "request failed" {
				return entry.Client
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"request failed\" line for the refusal:\n%s", logs)
		}
	}
}
