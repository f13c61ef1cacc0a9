package http_test

import (
	"bufio"
	"fmt"
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
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendTakesOnlyApplicationJSON: the contract's append body is
// Content-Type: application/json (API.md), and 415 is "not JSON". Any
// media type ending in +json was taken as well, application/problem+json
// and application/vnd.acme.order+json included: a client that sent one
// got its events written though the server does not know those formats,
// and a proxy or client that checks the contract saw it broken. (A
// hostile review found it.) They are 415s now, and every 415 for the
// Content-Type says, in Accept-Post and Accept (RFC 9110 §15.5.16), the
// one media type an append takes.
func TestAnAppendTakesOnlyApplicationJSON(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		body := `{"stream_type":"order","events":[{"type":"A","data":1}]}`
		for _, ct := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8"} {
			expectStatus(t, "Content-Type "+ct, s.do("POST", "/streams/"+uuid.NewString()+"/events", body, "Content-Type", ct), 201)
		}
		for _, ct := range []string{"application/problem+json", "application/vnd.acme.order+json", "application/merge-patch+json",
			"text/json", "text/plain", "application/jsonx", "application/json-seq"} {
			r := s.do("POST", "/streams/"+uuid.NewString()+"/events", body, "Content-Type", ct)
			expectStatus(t, "Content-Type "+ct, r, 415)
			if got := r.header.Get("Accept-Post"); got != "application/json" {
				t.Errorf("415 for Content-Type %q: Accept-Post %q, want \"application/json\"", ct, got)
			}
			if got := r.header.Get("Accept"); got != "application/json" {
				t.Errorf("415 for Content-Type %q: Accept %q, want \"application/json\"", ct, got)
			}
			if d := string(r.body); !strings.Contains(d, "application/json") || !strings.Contains(d, ct) {
				t.Errorf("415 for Content-Type %q: detail %s, want it to name what was sent and application/json", ct, d)
			}
		}
	})
}

// varyNames returns the field names Vary lists in h, canonicalised.
func varyNames(h http.Header) []string {
	var names []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	return names
}

// TestEveryAnswerVariesOnWhatChoseIt: GET /events and GET
// /streams/{id}/events choose a page or a subscription by Accept, but
// access control, which comes before the route, answered its 401s (and
// its 400s for a token sent twice) without Vary: Accept, so a cache could
// keep one for the wrong Accept. (A hostile review found it.) Every answer
// of theirs says Vary: Accept now, refusals before the route included; and
// with access control on, every answer of a route that needs a token says
// Vary: Authorization, as it is chosen by that header too (200, 401 or
// 403). Without access control, nothing varies on Authorization.
func TestEveryAnswerVariesOnWhatChoseIt(t *testing.T) {
	t.Parallel()
	const writeSecret, readSecret = "w-0123456789abcdef", "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("app:write:" + writeSecret + ",dashboard:read:" + readSecret)
	if err != nil {
		t.Fatal(err)
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		srv := httptest.NewServer(esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, Tokens: tokens}))
		t.Cleanup(srv.Close)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}, store: store}
		open := newServer(t, newContract(t), store)
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`,
			"Authorization", "Bearer "+writeSecret), 201)
		check := func(what string, r response, status int, want, not []string) {
			t.Helper()
			expectStatus(t, what, r, status)
			got := varyNames(r.header)
			for _, f := range want {
				if !slices.Contains(got, f) {
					t.Errorf("%s: Vary %q, want it to name %s", what, r.header.Values("Vary"), f)
				}
			}
			for _, f := range not {
				if slices.Contains(got, f) {
					t.Errorf("%s: Vary %q, want it not to name %s", what, r.header.Values("Vary"), f)
				}
			}
		}
		both := []string{"Accept", "Authorization"}
		for _, path := range []string{"/events", "/streams/" + id + "/events"} {
			check("GET "+path+" without a token", s.do("GET", path, ""), 401, both, nil)
			check("HEAD "+path+" without a token", s.do("HEAD", path, ""), 401, both, nil)
			check("GET "+path+" with an unknown token", s.do("GET", path, "", "Authorization", "Bearer nope"), 401, both, nil)
			check("GET "+path+" with an unknown query token", s.do("GET", path+"?access_token=nope", ""), 401, both, nil)
			check("GET "+path+" with a token sent two ways", s.do("GET", path+"?access_token="+readSecret, "", "Authorization", "Bearer "+readSecret), 400, both, nil)
			check("GET "+path+" with a read token", s.do("GET", path, "", "Authorization", "Bearer "+readSecret), 200, both, nil)
			check("GET "+path+" without access control", open.do("GET", path, ""), 200, []string{"Accept"}, []string{"Authorization"})
		}
		// A stream's description is JSON or a 406 by Accept (TestReadsThatAnswer406ByAcceptVaryOnAccept).
		check("GET /streams/{id} without a token", s.do("GET", "/streams/"+id, ""), 401, both, nil)
		check("POST /streams/{id}/events with a read token", s.do("POST", "/streams/"+id+"/events", `{"events":[{"type":"A","data":1}]}`,
			"Authorization", "Bearer "+readSecret), 403, []string{"Authorization"}, []string{"Accept"})
		// The probes answer 406 to an event stream alone (TestAnEventStreamAskedOfTheProbesThePageTheContractOrTheMetricsIs406).
		check("GET /healthz", s.do("GET", "/healthz", ""), 200, []string{"Accept"}, []string{"Authorization"})
		check("GET /streams/{id} without access control", open.do("GET", "/streams/"+id, ""), 200, []string{"Accept"}, []string{"Authorization"})
	})
}

// TestOptionsListsEveryPathsMethods: OPTIONS on a path the API serves was a
// 405 whose Allow left OPTIONS out (and every 405's Allow did), unless it
// was a CORS preflight. (A hostile review found it.) Now, as RFC 9110
// §9.3.7 has it, OPTIONS on every such path, without a token, is a 204
// with no body whose Allow lists the path's methods, OPTIONS among them;
// OPTIONS * lists every method the API serves; a path no route serves is
// a 404 still. With CORS on, a preflight is answered as before, and an
// OPTIONS that is not one as without CORS.
func TestOptionsListsEveryPathsMethods(t *testing.T) {
	t.Parallel()
	tokens, err := esthttp.ParseTokens("app:write:w-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	store := teststore.SQLite.Open(t)
	id := uuid.NewString()
	paths := []struct{ path, allow string }{
		{"/", "GET, HEAD, OPTIONS"},
		{"/healthz", "GET, HEAD, OPTIONS"},
		{"/readyz", "GET, HEAD, OPTIONS"},
		{"/openapi.yaml", "GET, HEAD, OPTIONS"},
		{"/events", "GET, HEAD, OPTIONS"},
		{"/streams", "GET, HEAD, OPTIONS"},
		{"/streams/" + id, "GET, HEAD, OPTIONS"},
		{"/streams/" + id + "/events", "GET, HEAD, POST, OPTIONS"},
		{"/streams/" + id + "/events/1", "GET, HEAD, OPTIONS"},
	}
	for _, tc := range []struct {
		name string
		opts esthttp.Options
	}{
		{"open", esthttp.Options{OpenAPI: api.OpenAPI}},
		{"with access control", esthttp.Options{OpenAPI: api.OpenAPI, Tokens: tokens}},
		{"with CORS", esthttp.Options{OpenAPI: api.OpenAPI, CORSOrigins: []string{"https://app.example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(esthttp.New(store, tc.opts))
			srv.Config.DisableGeneralOptionsHandler = true // as cmd/api serves it: OPTIONS * reaches the API
			srv.Start()
			t.Cleanup(srv.Close)
			s := &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}
			for _, p := range paths {
				r := s.do("OPTIONS", p.path, "")
				if r.status != http.StatusNoContent || r.header.Get("Allow") != p.allow || len(r.body) != 0 {
					t.Errorf("OPTIONS %s: %d with Allow %q and %d bytes of body, want 204 with Allow %q and none", p.path, r.status, r.header.Get("Allow"), len(r.body), p.allow)
				}
			}
			for _, path := range []string{"/nope", "/streams/" + id + "/nope", "/events/1", "/streams/", "/streams/" + id + "/"} {
				r := s.do("OPTIONS", path, "")
				if r.status != http.StatusNotFound || r.header.Get("Allow") != "" {
					t.Errorf("OPTIONS %s: %d with Allow %q, want 404 with none", path, r.status, r.header.Get("Allow"))
				}
			}
			if got, want := optionsStar(t, srv.Listener.Addr().String()), "GET, HEAD, POST, OPTIONS"; got != want {
				t.Errorf("OPTIONS *: %s, want 204 with Allow %q", got, want)
			}
			if tc.opts.CORSOrigins != nil {
				r := s.do("OPTIONS", "/streams/"+id+"/events", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST",
					"Access-Control-Request-Headers", "Content-Type, If-Match")
				if r.status/100 != 2 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
					!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
					t.Errorf("a CORS preflight: %d with Access-Control-Allow-Origin %q and -Methods %q, want it allowed",
						r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Methods"))
				}
			}
		})
	}
}

// optionsStar sends OPTIONS * to addr and returns the answer's status line
// and Allow.
func optionsStar(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("OPTIONS * HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Sprintf("%d with Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	return resp.Header.Get("Allow")
}

// TestAnInvalidQInAcceptIgnoresItsRange: a q in Accept that is not a
// qvalue (RFC 9110 §12.4.2: 0 to 1, at most three decimals) counted as 1,
// so text/event-stream;q=abc (or q=NaN, or q=2) subscribed, and so did
// application/json;q=abc beside an event stream: a client that meant no
// subscription, or a low one, got a response that never ends. (A hostile
// review found it.) A range with an invalid q is now ignored, as if it
// were not there: the rest of Accept decides.
func TestAnInvalidQInAcceptIgnoresItsRange(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := liveTestServer(t, k, false)
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		page := []string{
			"text/event-stream;q=abc",
			"text/event-stream;q=NaN",
			"text/event-stream;q=2",
			"text/event-stream;q=-0.5",
			"text/event-stream;q=1e0",
			"text/event-stream;q=0.0001",
			"text/event-stream;q=",
			"application/json, text/event-stream;q=abc",
			"text/event-stream;q=0.5, text/event-stream;q=oops, application/json",
		}
		events := []string{
			"text/event-stream;q=0.001",
			"text/event-stream;q=1.000",
			"text/event-stream;q=0.5, application/json;q=abc",
			"text/event-stream;q=0.5, application/json;q=1.5",
			"text/event-stream, text/event-stream;q=abc",
		}
		expectAcceptChooses(t, s.url, id, page, events)
	})
}

// TestAFaultDeepInsideDataNamesItsPath: a fault in the JSON of an event's
// data or metadata (a member given twice, a malformed literal, nesting past
// the decoder's depth) is a 400 whose detail names where it is. Deep
// enough that the decoder read more of the body while inside the value,
// the names of the outer objects came out as whatever bytes then sat where
// they had been: events[1].data.:{.:{.k… (a hostile review found it). The
// detail names the path as it is written now, for an array as for
// objects, however far the body had to be read.
func TestAFaultDeepInsideDataNamesItsPath(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		// names, levels deep, around inner, each object's name its depth.
		nest := func(levels int, inner string) (string, string) {
			var open, closing, path strings.Builder
			for i := range levels {
				fmt.Fprintf(&open, `{"pad":%q,"n%d":`, strings.Repeat(" ", 40), i)
				closing.WriteString("}")
				fmt.Fprintf(&path, ".n%d", i)
			}
			return open.String() + inner + closing.String(), path.String()
		}
		for _, tc := range []struct {
			name, inner, where, want string
		}{
			{"a member given twice", `{"x":1,"x":2}`, "", `the JSON member "x" appears twice in events[1].%s`},
			{"a malformed literal", `{"x":[1,tru]}`, ".x[1]", `(events[1].%s): invalid character`},
		} {
			for _, member := range []string{"data", "metadata"} {
				for _, levels := range []int{3, 60} {
					value, path := nest(levels, tc.inner)
					body := `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"A","` + member + `":` + value + `}]}`
					r := s.do("POST", "/streams/"+uuid.NewString()+"/events", body)
					expectStatus(t, tc.name, r, 400)
					want := fmt.Sprintf(tc.want, member+path+tc.where)
					if len(want) > 200 { // shortened past maxFieldName: its start is kept
						want = want[:60]
					}
					if got := r.json(t)["detail"].(string); !strings.Contains(got, want) {
						t.Errorf("%s in %s, %d levels deep: detail %q, want it to hold %q", tc.name, member, levels, got, want)
					}
				}
			}
		}
	})
}

// TestACharacterRightAfterAValueIsPlacedInIt: "data":01 is a number with
// a leading zero to whoever wrote it, but the decoder reads a 0 and then a
// 1 where a comma belongs, and named the object around it: events[0], not
// events[0].data (a review found it). A character that would go on a
// number or literal, written right against the value before it, is placed
// in that value, at any depth; one after a space, a missing comma, is
// still placed in the object or array around it.
func TestACharacterRightAfterAValueIsPlacedInIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		pad := `"pad":"` + strings.Repeat(" ", 5000) + `"` // the decoder reads more of the body inside the value
		for _, tc := range []struct{ events, where string }{
			{`{"type":"A","data":01}`, "events[0].data"},
			{`{"type":"A","data":1},{"type":"A","metadata":-01,"data":1}`, "events[1].metadata"},
			{`{"type":"A","data":1x}`, "events[0].data"},
			{`{"type":"A","data":{"a":01}}`, "events[0].data.a"},
			{`{"type":"A","data":[1,01]}`, "events[0].data[1]"},
			{`{"type":"A","data":{` + pad + `,"a":{"b":[true,0.5e1.2]}}}`, "events[0].data.a.b[1]"},
			{`{"type":"A","data":0 1}`, "events[0]"},
			{`{"type":"A","data":[1 2]}`, "events[0].data"},
		} {
			body := `{"stream_type":"order","events":[` + tc.events + `]}`
			r := s.do("POST", "/streams/"+uuid.NewString()+"/events", body)
			what := strings.Replace(tc.events, pad, `"pad":"…"`, 1)
			expectStatus(t, what, r, 400)
			want := "(" + tc.where + "):"
			if got := strings.Replace(r.json(t)["detail"].(string), pad, `"pad":"…"`, 1); !strings.Contains(got, want) {
				t.Errorf("%s: detail %q, want it to hold %q", what, got, want)
			}
		}
	})
}
