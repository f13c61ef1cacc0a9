package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/google/uuid"
	"github.com/tributary-dev/tributary/internal/linkheader"
)

// serviceSide does the work through the server under test, over HTTP.
type serviceSide struct {
	url string
	// base is url parsed, nil if it is no URL (baseErr says why): the
	// base of the pages follow reads.
	base    *url.URL
	baseErr error
	client  *http.Client
	seeded  uuid.UUID // the stream both reads read
	bodies  map[int][]byte
}

func newServiceSide(rawURL string) *serviceSide {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	base, err := url.Parse(rawURL)
	return &serviceSide{
		url: rawURL, base: base, baseErr: err,
		// Every request is bounded, not only the measured ops: a server
		// that stops answering fails the run instead of holding it.
		client: &http.Client{Timeout: opTimeout, Transport: &http.Transport{
			Proxy:               nil, // traffic only to 127.0.0.1
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 64, // a kept-alive connection per client
			DisableCompression:  true,
		}, CheckRedirect: sameOriginRedirect},
		bodies: map[int][]byte{},
	}
}

func (s *serviceSide) close() { s.client.CloseIdleConnections() }

// body returns the request body of an append of n events.
func (s *serviceSide) body(n int) []byte {
	if b, ok := s.bodies[n]; ok {
		return b
	}
	var b bytes.Buffer
	b.WriteString(`{"stream_type":"` + streamType + `","events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"` + eventType + `","data":` + eventData + `}`)
	}
	b.WriteString("]}")
	s.bodies[n] = b.Bytes()
	return b.Bytes()
}

// append posts n events to stream, expecting it at version, and returns
// its new version.
func (s *serviceSide) append(ctx context.Context, stream uuid.UUID, version int64, body []byte, n int) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/streams/"+stream.String()+"/events", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"`+strconv.FormatInt(version, 10)+`"`)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", stream, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("append to %s: read the response: %w", stream, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("append to %s at version %d: %s, expected 201 Created: %s", stream, version, resp.Status, truncate(string(b), 300))
	}
	want := version + int64(n)
	if tag := resp.Header.Get("ETag"); tag != `"`+strconv.FormatInt(want, 10)+`"` {
		return 0, fmt.Errorf("append to %s: ETag %s, expected \"%d\"", stream, tag, want)
	}
	return want, nil
}

// seed writes the stream both reads read, in appends of pageSize events:
// on a fresh store, the log's first readEvents positions.
func (s *serviceSide) seed(ctx context.Context) error {
	s.seeded = uuid.New()
	body := s.body(pageSize)
	for v := int64(0); v < readEvents; v += pageSize {
		if _, err := s.append(ctx, s.seeded, v, body, pageSize); err != nil {
			return err
		}
	}
	return nil
}

func (s *serviceSide) appends(clients, batch int) op {
	streams := make([]uuid.UUID, clients)
	versions := make([]int64, clients) // each used by its client's goroutine only
	for i := range streams {
		streams[i] = uuid.New()
	}
	body := s.body(batch)
	return func(ctx context.Context, c int) (int, error) {
		v, err := s.append(ctx, streams[c], versions[c], body, batch)
		if err != nil {
			return 0, err
		}
		versions[c] = v
		return batch, nil
	}
}

// healthz is one GET /healthz, which touches no database: what an HTTP
// round trip to the server costs at the least.
func (s *serviceSide) healthz() op {
	return func(ctx context.Context, _ int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
		if err != nil {
			return 0, err
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("GET /healthz: %w", err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return 0, fmt.Errorf("GET /healthz: read the response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET /healthz: %s, expected 200 OK", resp.Status)
		}
		return 1, nil
	}
}

func (s *serviceSide) readStream() op {
	first := fmt.Sprintf("/streams/%s/events?limit=%d", s.seeded, pageSize)
	return func(ctx context.Context, _ int) (int, error) {
		n, err := s.follow(ctx, first, readEvents)
		if err == nil && n != readEvents {
			err = fmt.Errorf("read %d events of the stream, expected %d", n, readEvents)
		}
		return n, err
	}
}

func (s *serviceSide) readLog() op {
	first := fmt.Sprintf("/events?limit=%d", pageSize)
	return func(ctx context.Context, _ int) (int, error) {
		n, err := s.follow(ctx, first, readEvents)
		if err == nil && n < readEvents {
			err = fmt.Errorf("the log ended after %d events, expected at least %d", n, readEvents)
		}
		return n, err
	}
}

// follow reads the page at path and the pages its Link rel="next" headers
// lead to, until there is none or at least want events were read, and
// returns how many events it read. It decodes every event of every page, as
// the raw side scans every row (readEvent), and checks their order.
func (s *serviceSide) follow(ctx context.Context, path string, want int) (int, error) {
	n := 0
	var buf bytes.Buffer
	var body struct {
		Events []readEvent `json:"events"`
	}
	var last int64
	if s.baseErr != nil {
		return 0, fmt.Errorf("the server's URL: %w", s.baseErr)
	}
	page, err := pageURL(s.base, s.base, path)
	if err != nil {
		return 0, err
	}
	for page != nil && n < want {
		path = page.RequestURI() // for errors
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, page.String(), nil)
		if err != nil {
			return n, err
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return n, fmt.Errorf("GET %s: %w", path, err)
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return n, fmt.Errorf("GET %s: read the response: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("GET %s: %s, expected 200 OK: %s", path, resp.Status, truncate(buf.String(), 300))
		}
		// Reused, and zeroed: the decoder decodes into the elements it
		// finds, keeping the fields a page leaves out (metadata). Decoded
		// as a client that minds its time would: with the JSON package the
		// server itself uses (encoding/json/v2's), which takes about half
		// the time of encoding/json's for a page of 1,000 events.
		clear(body.Events[:cap(body.Events)])
		body.Events = body.Events[:0]
		if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
			return n, fmt.Errorf("GET %s: decode the page: %w", path, err)
		}
		if len(body.Events) == 0 {
			return n, fmt.Errorf("GET %s: a page without events", path)
		}
		if last, err = checkPage(body.Events, last); err != nil {
			return n, fmt.Errorf("GET %s: %w", path, err)
		}
		n += len(body.Events)
		link, linked := linkheader.Next(resp.Header.Values("Link"))
		if !linked || link == "" { // the server's links are never empty
			break
		}
		if page, err = pageURL(s.base, resp.Request.URL, link); err != nil {
			return n, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	return n, nil
}

// pageURL returns the URL of the page ref names on the server at base,
// from the page at page (a next link's; base for the first): an absolute
// URL as it is; a path from the server's root, which the server writes
// its links as, under base's path, whether base ends in a slash or not,
// as the client puts it (behind a proxy that strips a prefix); any other
// reference (<?after=5>, <events?…>) relative to page (RFC 3986 §5).
// Joined as strings, a base ending in a slash asked for //events, and an
// absolute or relative link for no URL at all. A link to another origin
// than base's (scheme, host, port) is an error: the tool measures and
// checks the server it starts, and sends nothing elsewhere.
func pageURL(base, page *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("the next link %.200q is no URL reference: %w", ref, err)
	}
	if r.Scheme != "" || r.Host != "" || !strings.HasPrefix(r.Path, "/") {
		u := page.ResolveReference(r)
		if origin(u) != origin(base) {
			return nil, fmt.Errorf("the next link %.200q names another origin than the server's (%s): the tool reads the server it measures only", ref, origin(base))
		}
		return u, nil
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + r.Path
	u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + r.EscapedPath()
	u.RawQuery, u.Fragment, u.RawFragment = r.RawQuery, "", ""
	return &u, nil
}

// sameOriginRedirect is the tool's CheckRedirect: a redirect to another
// origin than the first request's is an error, nothing sent there (the
// tool measures the server it starts only); others as net/http's
// default, at most 10.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if o := origin(req.URL); o != origin(via[0].URL) {
		return fmt.Errorf("a redirect to another origin (%s) than the server's (%s): the tool sends its requests to the server it measures only", o, origin(via[0].URL))
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// origin is u's scheme, host in lower case and port, the scheme's default
// if it names none: scheme://host:port.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
