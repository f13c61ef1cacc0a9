package http

import (
	"fmt"
	"testing"
)

// BenchmarkFramingLogRead is the framing log's look at an ordinary
// append's bytes as a connection reads them (its request line, a dozen
// header lines, a JSON body), each line checked for a length said in
// another spelling (otherSpelling): what every request costs the log.
func BenchmarkFramingLogRead(b *testing.B) {
	const body = `{"stream_type":"order","events":[{"type":"OrderPlaced","data":{"order_id":"o-1","lines":[{"sku":"a","qty":1}]}}]}`
	req := []byte("POST /streams/0f8fad5b-d9cb-469f-a165-70867728950e/events HTTP/1.1\r\n" +
		"Host: tributary.internal:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Type: application/json\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip\r\nAuthorization: Bearer 0123456789abcdef0123456789abcdef\r\n" +
		"If-Match: \"10\"\r\nX-Request-Id: 6f1c3a52-2f55-4c3e-9a0e-6bb0b7f3c1de\r\nTraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body)
	var f framingLog
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		f.read(req)
	}
	if f.otherSpelling.Load() || len(f.blocks) != 0 {
		b.Fatalf("an ordinary append marked (other spelling %v, %d blocks kept)", f.otherSpelling.Load(), len(f.blocks))
	}
}
