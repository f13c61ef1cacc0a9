package http

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stream browser served at GET /: one HTML document whose style and
// script are embedded from their own files, so that they can be edited as
// CSS and JavaScript, and are inlined when the binary starts.
var (
	//go:embed page/index.html
	pageHTML string
	//go:embed page/app.css
	pageCSS string
	//go:embed page/app.js
	pageJS string
)

// browserPages holds the assembled page for each heartbeat a server was
// given (time.Duration → page), each built once.
var browserPages sync.Map

// pageFor returns the page for a server whose subscriptions get a
// keep-alive every heartbeat.
func pageFor(heartbeat time.Duration) page {
	if p, ok := browserPages.Load(heartbeat); ok {
		return p.(page)
	}
	p, _ := browserPages.LoadOrStore(heartbeat, newPage(pageHTML, pageCSS, pageJS, heartbeat))
	return p.(page)
}

type page struct {
	body []byte
	csp  string
	etag string
}

// newPage inlines css and js into html at its /*style*/ and /*script*/
// markers, and the heartbeat, in milliseconds, at its /*heartbeat*/ one: the
// page takes its live connection for lost when it has heard nothing on it,
// not even a keep-alive, for a few heartbeats, and its script is the same
// whatever the heartbeat, its hash with it. The Content-Security-Policy allows exactly those two inline
// blocks, by hash, and otherwise nothing but requests to this origin: no
// other script, style, frame or form target, whatever an event's data holds.
func newPage(html, css, js string, heartbeat time.Duration) page {
	if strings.Contains(strings.ToLower(js), "</script") || strings.Contains(strings.ToLower(css), "</style") {
		panic("page: app.js or app.css holds a closing tag that would end its block early")
	}
	body := strings.Replace(html, "/*heartbeat*/", strconv.FormatInt(heartbeat.Milliseconds(), 10), 1)
	body = strings.Replace(strings.Replace(body, "/*style*/", css, 1), "/*script*/", js, 1)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	sum := sha256.Sum256([]byte(body))
	return page{
		body: []byte(body),
		csp: "default-src 'none'; script-src " + hash(js) + "; style-src " + hash(css) +
			"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		etag: `"page-` + hex.EncodeToString(sum[:8]) + `"`,
	}
}

// page serves the stream browser. It is served without a token even when
// access control is on: it is the same static shell for everyone and holds
// no data, and a browser cannot attach a bearer token to a navigation. The
// page asks for a token when the API answers 401 and sends it with every
// request it makes; what it shows is only ever what that token may read.
// Its query string is ignored, not refused: the page takes nothing from
// it (its views and filters are in the fragment), and a link a chat app
// or a mail tracker decorated (?fbclid=…) showed a JSON 400 to a person.
func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "the stream browser's page", "text/html"); err != nil {
		return err
	}
	browserPage := pageFor(s.opts.Heartbeat)
	h := w.Header()
	h.Set("Content-Security-Policy", browserPage.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// Revalidated every time (no-cache, as every answer: cacheControl),
	// so a new binary's page is never stale.
	h.Set("ETag", browserPage.etag)
	// If-Match first (RFC 9110 §13.2.2): it was ignored, a 200 for any tag.
	if !tagMatches(r, browserPage.etag) {
		return problemf(errPrecondition, "If-Match %s does not hold: the page's entity tag is %s (it changes with the binary and with TRIBUTARY_HEARTBEAT, which the page carries; a weak tag never matches)",
			strings.Join(r.Header.Values("If-Match"), ", "), browserPage.etag)
	}
	if notModified(r, browserPage.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(browserPage.body)))
	// Once the status is sent, a failed write means the client left.
	w.Write(browserPage.body) //nolint:errcheck
	return nil
}
