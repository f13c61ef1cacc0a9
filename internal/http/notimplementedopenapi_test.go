package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
)

// identityTransport sends each request on a connection of its own with
// Transfer-Encoding: identity, which Go's client never writes and the
// server does not take, and no body.
type identityTransport struct{}

func (identityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hang guard
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n",
		req.Method, req.URL.RequestURI(), req.URL.Host); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// TestTheNotImplementedAnswerIsInTheContractOfEveryOperation: a request
// whose Transfer-Encoding the server does not take is answered 501
// not-implemented before it is routed, whatever its method and path, but
// openapi.yaml listed that 501 under the append alone, so a client
// generated from it had no case for it anywhere else (a retest). Every
// operation of the document lists it now; the contract transport fails
// the test on an answer the document does not describe.
func TestTheNotImplementedAnswerIsInTheContractOfEveryOperation(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	c := newContract(t)
	c.base = identityTransport{}
	client := &http.Client{Transport: c, Timeout: 30 * time.Second}
	sent := 0
	for path, item := range doc.Paths.Map() {
		target := strings.NewReplacer("{stream_id}", uuid.NewString(), "{version}", "1").Replace(path)
		for method := range item.Operations() {
			req, _ := http.NewRequest(method, "http://"+addr+target, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, target, err)
			}
			resp.Body.Close()
			sent++
			if resp.StatusCode != http.StatusNotImplemented {
				t.Errorf("%s %s with Transfer-Encoding: identity: %d; want 501", method, path, resp.StatusCode)
			}
		}
	}
	if sent < 11 {
		t.Errorf("%d operations sent; openapi.yaml has 11 at least", sent)
	}
}
