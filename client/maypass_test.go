package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestMayPassKnowsAnHTTP2StreamResetByItsAsNotItsName: an HTTP/2 stream
// reset was known by the name of net/http's unexported type
// (http.http2StreamError), which a Go upgrade may change without a word,
// and a read it cut was then no longer sent again, nor a subscription's
// error known to pass. Go gives that type an As to
// golang.org/x/net/http2.StreamError's shape; it is known by that now,
// whatever the type's name: here one named otherwise, with Go's As.
func TestMayPassKnowsAnHTTP2StreamResetByItsAsNotItsName(t *testing.T) {
	t.Parallel()
	err := &url.Error{Op: "Get", URL: "/events", Err: renamedStreamError{StreamID: 1, Code: 2}}
	if !mayPass(err) {
		t.Errorf("mayPass(%v), a stream reset of a type Go names otherwise but converts by As: false; expected true", err)
	}
	if mayPass(&url.Error{Op: "Get", URL: "/events", Err: errors.New("stream error: stream ID 1; INTERNAL_ERROR")}) {
		t.Error("mayPass of an error that only reads as a stream reset: true; expected false")
	}
}

// renamedStreamError is net/http's http2StreamError under another name,
// with the As it has (net/http/h2_error.go).
type renamedStreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e renamedStreamError) Error() string {
	return fmt.Sprintf("stream error: stream ID %d", e.StreamID)
}

func (e renamedStreamError) As(target any) bool {
	dst := reflect.ValueOf(target).Elem()
	if dst.Kind() != reflect.Struct || dst.NumField() != 3 {
		return false
	}
	src := reflect.ValueOf(e)
	for i := range 3 {
		if src.Type().Field(i).Name != dst.Type().Field(i).Name || !src.Field(i).Type().ConvertibleTo(dst.Field(i).Type()) {
			return false
		}
	}
	for i := range 3 {
		dst.Field(i).Set(src.Field(i).Convert(dst.Field(i).Type()))
	}
	return true
}

// TestGoStillWordsTheErrorsMayPassKnows: where Go has no exported value
// or type for an error that may pass, mayPass knows it by its text
// (connectionLost) or its type's name (http2Errors), which a Go upgrade
// may change without a word: reads and subscriptions would then end at
// a connection lost. This fails first: each text must still be an
// errors.New of net/http's source, each name a type of it; and the
// stream error's As, by which it is known (h2StreamError), must still be
// there.
func TestGoStillWordsTheErrorsMayPassKnows(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "src", "net", "http")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("net/http's source in %s: %v, %d files", dir, err, len(files))
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	code := src.String()
	for text := range connectionLost {
		if !strings.Contains(code, "errors.New("+fmt.Sprintf("%q", text)+")") {
			t.Errorf("net/http's source (%s) has no errors.New(%q): Go reworded it, and mayPass no longer knows it", dir, text)
		}
	}
	for name := range http2Errors {
		pkg, typ, _ := strings.Cut(name, ".")
		if pkg != "http" {
			continue // golang.org/x/net/http2's, which the module does not hold
		}
		if !strings.Contains(code, "\ntype "+typ+" ") {
			t.Errorf("net/http's source (%s) has no type %s: Go renamed it, and mayPass no longer knows it", dir, typ)
		}
	}
	if !strings.Contains(code, "func (e http2StreamError) As(target any) bool") {
		t.Errorf("net/http's source (%s) has no As on http2StreamError: mayPass no longer knows a stream reset", dir)
	}
	// An answer net/http cannot read, known by its text (unreadableAnswer).
	if !strings.Contains(code, `badStringError("malformed HTTP response", line)`) || !strings.Contains(code, `badStringError("malformed HTTP status code", statusCode)`) {
		t.Errorf("net/http's source (%s) no longer words an answer it cannot read \"malformed HTTP ...\": unreadableAnswer no longer knows it", dir)
	}
	// The proxy's answer to CONNECT, known by its reason phrase alone
	// (proxyBusy, proxyAuthRequired).
	if !strings.Contains(code, `_, text, ok := strings.Cut(resp.Status, " ")`) || !strings.Contains(code, "return nil, errors.New(text)") ||
		!strings.Contains(code, `return nil, errors.New("unknown status code")`) {
		t.Errorf("net/http's source (%s) no longer returns a proxy's answer to CONNECT as its reason phrase: proxyBusy and proxyAuthRequired no longer know it", dir)
	}
	if !mayPass(&url.Error{Err: errors.New(http.StatusText(http.StatusServiceUnavailable))}) {
		t.Error("mayPass of a proxy's 503 to CONNECT: false; expected true")
	}
}

// TestMayPassKnowsAConnectionLostInAJoinedError: a caller's RoundTripper
// that retries may return its errors joined (errors.Join, or fmt.Errorf
// with two %w); mayPass walked only a single chain (errors.Unwrap), so a
// connection lost known by its text or type name (connectionLost,
// http2Errors) in such an error was not known to pass, and a
// subscription that met it three times in a row ended. Now every branch
// is walked, as errors.Is and errors.As do.
func TestMayPassKnowsAConnectionLostInAJoinedError(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		errors.Join(errors.New("attempt 1"), errors.New("http: server closed idle connection")),
		fmt.Errorf("gave up: %w; %w", errors.New("attempt 1"), errors.New("http2: client connection lost")),
	} {
		if !mayPass(&url.Error{Op: "Get", URL: "/events", Err: err}) {
			t.Errorf("mayPass(%q), a connection lost in a joined error: false; expected true", err)
		}
	}
}
