package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAppendsTricklingTheirBodiesCannotLockOthersOut: with access control
// on, a client holding a valid token sent its appends' headers at once and
// then their bodies a byte now and then: its connections were never idle,
// silent nor in their headers, and held their places at
// TRIBUTARY_MAX_CONNECTIONS until TRIBUTARY_READ_TIMEOUT (60 s), every other
// client refused 503 meanwhile (a review: 32 such clients filled a bound of
// 30). At the bound, a body behind 64 KiB/s once 2 s have passed gives its
// place to a new connection: another client's append is written, the one
// closed is answered 408, and none of the trickled appends is written. On
// both stores.
func TestAppendsTricklingTheirBodiesCannotLockOthersOut(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const token = "trickle-writer-0123456789"
		s := startServer(t, append(k.ServerEnv, "TRIBUTARY_API_TOKENS=app:write:"+token,
			"TRIBUTARY_MAX_CONNECTIONS=4", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT=4")...)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		type trickler struct {
			conn   net.Conn
			stream string
		}
		var slow []trickler
		for range 4 {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
			c, err := d.Dial("tcp", hostPort(s.URL))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			id := newID()
			if _, err := fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
				"Content-Length: 4096\r\n\r\n"+`{"stream_type":"t","events":[{"type":"Slow","data":{"pad":"`, id, token); err != nil {
				t.Fatalf("send an append's headers: %v", err)
			}
			slow = append(slow, trickler{c, id})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Millisecond):
						if _, err := io.WriteString(c, "x"); err != nil {
							return
						}
					}
				}
			}()
		}
		t.Cleanup(func() {
			select {
			case <-stop:
			default:
				close(stop)
			}
			wg.Wait()
		})
		time.Sleep(2500 * time.Millisecond) // past the 2 s grace after the headers

		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		other := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, DisableKeepAlives: true}}
		req, err := http.NewRequest(http.MethodPost, s.URL+"/streams/"+newID()+"/events",
			bytes.NewReader(jsonBytes(t, appendBody{StreamType: "t", Events: events(1, "E")})))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := other.Do(req)
		if err != nil {
			t.Fatalf("another client's append while 4 connections trickle their appends' bodies at a bound of 4: %v; want 201", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("another client's append while 4 connections trickle their appends' bodies at a bound of 4: %d %s; want 201, one of them closed for it", resp.StatusCode, b)
		}
		answered := 0
		for _, sl := range slow {
			sl.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond)) //nolint:errcheck
			resp, err := http.ReadResponse(bufio.NewReader(sl.conn), nil)
			if err != nil {
				continue // still trickling
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "TRIBUTARY_MAX_CONNECTIONS") {
				t.Errorf("a trickling append closed for a new connection: %d %s; want a 408 naming TRIBUTARY_MAX_CONNECTIONS", resp.StatusCode, b)
			}
			answered++
		}
		if answered != 1 {
			t.Errorf("%d trickling appends answered for one new connection; want 1", answered)
		}
		close(stop)
		wg.Wait()
		for _, sl := range slow {
			sl.conn.Close()
		}
		for _, sl := range slow {
			r := s.get(t, "/streams/"+sl.stream, "Authorization", "Bearer "+token)
			for deadline := time.Now().Add(5 * time.Second); r.Status == http.StatusServiceUnavailable && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond) // the closed ones' places are still being given back
				r = s.get(t, "/streams/"+sl.stream, "Authorization", "Bearer "+token)
			}
			if r.Status != http.StatusNotFound {
				t.Errorf("GET the stream of a trickling append, never whole: %d %s; want 404, nothing written", r.Status, r.Body)
			}
		}
	})
}
