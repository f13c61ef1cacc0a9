package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestATokenInTheQueryOfAWriteIsRefusedWithAccessControlOff: with tokens
// on, ?access_token= on a POST is a 400 (a token is taken in a URL only on
// a GET or HEAD); with access control off the same POST wrote its events
// (201): a client tested on a server without tokens passed, then every
// append failed once tokens were turned on in production. It is the same
// 400 either way, and nothing is written.
func TestATokenInTheQueryOfAWriteIsRefusedWithAccessControlOff(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{}))
		t.Cleanup(srv.Close)
		client := &http.Client{Timeout: 30 * time.Second}
		path := "/streams/" + uuid.NewString() + "/events"
		resp, err := client.Post(srv.URL+path+"?access_token=abcdefabcdefabcdef", "application/json",
			strings.NewReader(`{"stream_type":"order","events":[{"type":"A","data":1}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "?access_token= is taken only on a GET or HEAD") {
			t.Fatalf("POST with ?access_token=, access control off: %d %s; want the 400 it is with tokens on", resp.StatusCode, body)
		}
		resp, err = client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the stream after the refused POST: %d; want 404 (nothing written)", resp.StatusCode)
		}
	})
}
