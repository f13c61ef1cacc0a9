package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// The browser tests drive the page at GET / in headless Chromium through
// chromedriver, over the W3C WebDriver protocol, which is plain HTTP and
// JSON: no client library is needed. They need Debian's chromium and
// chromium-driver packages (.ci/run installs them); without them they skip,
// except in CI (CI=true), where they fail.

// screenshotEnv names the variable that makes the browser test rewrite
// docs/page.png; CI leaves it unset, so that it never dirties the tree.
const screenshotEnv = "TRIBUTARY_UPDATE_SCREENSHOT"

// pageTimeout bounds the wait for the page to show something expected.
const pageTimeout = 15 * time.Second

// pacedWait bounds a wait the page's own timers pace (its /readyz checks
// every 5 s, a span of its clock, its 10 s bound on a read, its backoff):
// a few of them, on a machine that CI
// shares between every package's tests, take well past pageTimeout.
const pacedWait = 2 * time.Minute

// TestPageTailsAStreamLiveAcrossARestart opens a stream in the page, appends
// over HTTP and sees each event appear without a reload; it stops the server
// and starts another on the same data and address, and sees the live tail
// resume with every version once, in order. Then the live log, filtered,
// follows the global log, and the totals at the top follow the head.
func TestPageTailsAStreamLiveAcrossARestart(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		env := k.ServerEnv
		s := startRestartableServer(t, env...)
		b := startBrowser(t, chromium, driver)
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: []newEvent{
			{Type: "OrderPlaced", Data: map[string]any{"sku": "A-1", "total": 10, "lines": []any{map[string]any{"sku": "A-1", "qty": 2}}},
				Metadata: map[string]string{"correlation_id": "req-42"}},
			{Type: "OrderPaid", Data: map[string]any{"amount": 10}},
		}})

		b.navigate(t, s.URL+"/#/streams/"+id)
		b.waitFor(t, "the stream's two events, newest first", versionsJS, "[2,1]")
		b.waitFor(t, "the live tail to be caught up", statusJS, `"Live at version 2: caught up"`)
		b.waitFor(t, "the metadata, pretty-printed", `return document.querySelector('#stream-events li[data-version="1"]').textContent.includes('"correlation_id": "req-42"')`, "true")
		b.run(t, `window.notReloaded = true; return null`)

		s.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "OrderShipped", Data: map[string]any{"carrier": "DHL"}}}})
		b.waitFor(t, "version 3 to appear live", versionsJS, "[3,2,1]")

		// Stop the server: the page says the connection is lost, and
		// resumes on its successor at the same address.
		port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
		if !rebindable(port) {
			t.Fatalf("the server listens on port %s, not one from freeport: its successor may find it taken", port)
		}
		s.stopClean(t)
		b.waitFor(t, "the page to show the connection lost", `return document.getElementById('stream-status').className.includes('down')`, "true")
		s2 := startServer(t, append(slices.Clone(s.StoreEnv), "TRIBUTARY_ADDR=127.0.0.1:"+port)...)
		// Most likely before the page reconnects (EventSource waits 2 s):
		// it then arrives as history after Last-Event-ID.
		s2.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "OrderDelivered", Data: map[string]any{}}}})
		b.waitFor(t, "the tail to resume with version 4", versionsJS, "[4,3,2,1]")
		b.waitFor(t, "the live tail to be caught up again", `return document.getElementById('stream-status').className.includes('live')`, "true")
		s2.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "OrderClosed", Data: map[string]any{"reason": "done"}}}})
		b.waitFor(t, "version 5 to appear live, after the restart", versionsJS, "[5,4,3,2,1]")
		b.waitFor(t, "the status to follow the live tail", statusJS, `"Live at version 5"`)
		b.waitFor(t, "the page not to have reloaded", `return window.notReloaded === true`, "true")
		b.waitFor(t, "no event received twice", `return document.body.dataset.anomalies || "none"`, `"none"`)
		b.waitFor(t, "the stream's version in its details", `return document.getElementById('stream-version').textContent`, `"5"`)

		shot := b.screenshot(t)
		if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
			t.Fatalf("the screenshot is not a PNG: %v", err)
		}
		if os.Getenv(screenshotEnv) != "" && strings.HasSuffix(t.Name(), "/sqlite") {
			path := filepath.Join("..", "docs", "page.png")
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatalf("write %s: %v", path, err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(shot))
		}

		// The live log, filtered to orders, without a reload.
		b.run(t, `location.hash = '#/?stream_type=order'; return null`)
		b.waitFor(t, "the log's five order events", positionsJS, "[5,4,3,2,1]")
		other := newID()
		s2.mustAppend(t, other, appendBody{StreamType: "invoice", Events: []newEvent{{Type: "InvoiceIssued", Data: map[string]any{"n": 1}}}})
		s2.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "OrderArchived", Data: map[string]any{}}}})
		b.waitFor(t, "the order event, not the invoice", positionsJS, "[7,5,4,3,2,1]")
		b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"7"`)
		b.waitFor(t, "the stream count at the top", `return document.getElementById('stat-streams').textContent`, `"2"`)
		b.waitFor(t, "the page not to have reloaded", `return window.notReloaded === true`, "true")
	})
}

// TestPageAsksForATokenOnceAndKeepsItForTheTab: with access control on,
// the page (served without a token) asks for one when the API answers 401,
// then shows the stream and tails it with that token, and a reload asks no
// more: the token is kept in the tab's sessionStorage.
func TestPageAsksForATokenOnceAndKeepsItForTheTab(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	const secret = "r-0123456789abcdef"
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=app:write:w-0123456789abcdef,dash:read:"+secret)
	b := startBrowser(t, chromium, driver)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "OrderPlaced")}, "Authorization", "Bearer w-0123456789abcdef")

	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the token dialog", `return document.getElementById('token-dialog').open`, "true")
	b.run(t, `document.getElementById('token-input').value = '`+secret+`';
		document.getElementById('token-form').requestSubmit(); return null`)
	b.waitFor(t, "the stream's events, read with the token", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail, with the token", `return document.getElementById('stream-status').className.includes('live')`, "true")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")}, "Authorization", "Bearer w-0123456789abcdef")
	b.waitFor(t, "a live event", versionsJS, "[3,2,1]")
	b.waitFor(t, "the token in sessionStorage", `return sessionStorage.getItem('tributary.token')`, `"`+secret+`"`)

	b.run(t, `window.notReloaded = true; return null`)
	if err := b.call(http.MethodPost, b.session+"/refresh", map[string]any{}, nil); err != nil {
		t.Fatalf("reload the page: %v", err)
	}
	b.waitFor(t, "a new document", `return window.notReloaded === undefined`, "true")
	b.waitFor(t, "the events after a reload", versionsJS, "[3,2,1]")
	b.waitFor(t, "no second token prompt", `return document.getElementById('token-dialog').open`, "false")
}

const (
	versionsJS  = `return [...document.querySelectorAll('#stream-events li')].map(li => Number(li.dataset.version))`
	positionsJS = `return [...document.querySelectorAll('#log-events li')].map(li => Number(li.dataset.position))`
	statusJS    = `return document.getElementById('stream-status').textContent`
)

// browserPaths finds Chromium and chromedriver. Without them the test skips,
// unless it runs in CI.
func browserPaths(t *testing.T) (chromium, driver string) {
	t.Helper()
	for _, p := range []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			chromium = path
			break
		}
	}
	driver, _ = exec.LookPath("chromedriver")
	if chromium == "" || driver == "" {
		skipOutsideCI(t, "the browser test needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver); .ci/run installs them")
	}
	return chromium, driver
}

// startPageOnSQLite starts the server on a fresh SQLite database and a
// browser beside it: what most of the page's tests need.
func startPageOnSQLite(t *testing.T) (*server, *browser) {
	t.Helper()
	chromium, driver := browserPaths(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	return s, startBrowser(t, chromium, driver)
}

// startRestartablePage is startPageOnSQLite for a test that restarts the
// server: the server is startRestartableServer's, started with env.
func startRestartablePage(t *testing.T, env ...string) (*server, *browser) {
	t.Helper()
	chromium, driver := browserPaths(t)
	s := startRestartableServer(t, env...)
	return s, startBrowser(t, chromium, driver)
}

// stopClean stops s, which must exit 0 of itself, and returns its port.
func (s *server) stopClean(t *testing.T) string {
	t.Helper()
	port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
	if code, killed := s.terminate(); code != 0 || killed {
		t.Fatalf("server stopped with status %d (killed: %v); expected a clean exit", code, killed)
	}
	return port
}

// restartAt stops s as stopClean does and starts a server with env at its
// address (s is startRestartableServer's, so that the port is still free).
func (s *server) restartAt(t *testing.T, env ...string) *server {
	t.Helper()
	port := s.stopClean(t)
	return startServer(t, append(slices.Clip(env), "TRIBUTARY_ADDR=127.0.0.1:"+port)...)
}

// startPageWithAStream is startPageOnSQLite with a stream of n events of
// eventType appended first; it returns the stream's id too.
func startPageWithAStream(t *testing.T, streamType string, n int, eventType string) (*server, *browser, string) {
	t.Helper()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: streamType, Events: events(n, eventType)})
	return s, b, id
}

// openLiveStream opens the stream id of s and waits, as what, for its live
// tail, caught up at version.
func (b *browser) openLiveStream(t *testing.T, s *server, id string, version int, what string) {
	t.Helper()
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, what, statusJS, fmt.Sprintf(`"Live at version %d: caught up"`, version))
}

// openStreamList opens the list of the streams of s and waits for its n
// rows.
func (b *browser) openStreamList(t *testing.T, s *server, n int) {
	t.Helper()
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the stream list", `return document.querySelectorAll('#streams-table tbody tr').length`, strconv.Itoa(n))
}

// startPageBehindProxy is startPageOnSQLite on a MySQL database behind a
// fault proxy instead, for a test that makes the database fail.
func startPageBehindProxy(t *testing.T) (*server, *browser, *faultproxy.Proxy) {
	t.Helper()
	chromium, driver := browserPaths(t)
	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	return s, startBrowser(t, chromium, driver), p
}

// pauseTail clicks the stream's pause button and waits for its tail paused.
func (b *browser) pauseTail(t *testing.T) {
	t.Helper()
	b.run(t, `document.getElementById('stream-pause').click(); return null`)
	b.waitFor(t, "the tail paused", statusJS, `"Paused"`)
	// Its name says what the next click does, not a pressed state too.
	if got := b.run(t, `const p = document.getElementById('stream-pause'); return [p.hasAttribute('aria-pressed'), p.textContent]`); got != `[false,"Resume live tail"]` {
		t.Errorf("the paused tail's button (aria-pressed set, its name): %s; want [false,\"Resume live tail\"]", got)
	}
}

// browser is one WebDriver session of headless Chromium.
type browser struct {
	session string // http://127.0.0.1:PORT/session/ID
	client  *http.Client
}

// startBrowser starts chromedriver on a free loopback port and opens a
// session; both end at cleanup.
func startBrowser(t *testing.T, chromium, driver string) *browser {
	t.Helper()
	port := strconv.Itoa(freeport.Ports(t, 1)[0])
	cmd := exec.Command(driver, "--port="+port, "--allowed-ips=127.0.0.1")
	out := newProcessOutput() // the servers' collector; it finds no "listening" line here
	cmd.Stdout, cmd.Stderr = out.stdoutWriter(), out.stderrWriter()
	// Chromium runs in chromedriver's process group, which cleanup kills
	// whole: a browser left running after a failed test would hold the
	// output pipes open, and Wait, and so the test, would hang until the
	// test binary's timeout. WaitDelay bounds that wait all the same.
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	output := func() string {
		stdout, stderr := out.snapshot()
		return string(stdout) + string(stderr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", driver, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // killed at cleanup
	t.Cleanup(func() {
		killGroup(cmd)
		<-exited
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", output())
		}
	})
	b := &browser{client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(startTimeout)
	for {
		var status struct {
			Ready bool `json:"ready"`
		}
		if err := b.call(http.MethodGet, base+"/status", nil, &status); err == nil && status.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not become ready within %s; output:\n%s", startTimeout, output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			// --no-sandbox: CI runs as root, where Chromium's sandbox cannot
			// start; the page is ours and served from loopback.
			"args": []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--no-proxy-server", "--no-first-run", "--window-size=1100,1000", "--user-data-dir=" + t.TempDir()},
		},
	}}}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(http.MethodPost, base+"/session", caps, &created); err != nil {
		t.Fatalf("open a Chromium session: %v; chromedriver output:\n%s", err, output())
	}
	b.session = base + "/session/" + created.SessionID
	t.Cleanup(func() { b.call(http.MethodDelete, b.session, nil, nil) }) //nolint:errcheck // chromedriver is killed next
	return b
}

// call sends one WebDriver command and decodes its "value" into out.
func (b *browser) call(method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, raw)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, env.Value)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

func (b *browser) navigate(t *testing.T, url string) {
	t.Helper()
	if err := b.call(http.MethodPost, b.session+"/url", map[string]string{"url": url}, nil); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// run runs script in the page and returns its result as JSON.
func (b *browser) run(t *testing.T, script string) string {
	t.Helper()
	got, err := b.eval(script)
	if err != nil {
		t.Fatalf("run %q in the page: %v", script, err)
	}
	return got
}

func (b *browser) eval(script string) (string, error) {
	var v json.RawMessage
	err := b.call(http.MethodPost, b.session+"/execute/sync", map[string]any{"script": script, "args": []any{}}, &v)
	return string(v), err
}

// waitFor runs script until its result, as JSON, is want; the failure
// message gives the last result and what the page said.
func (b *browser) waitFor(t *testing.T, what, script, want string) {
	t.Helper()
	b.waitForWithin(t, pageTimeout, what, script, want)
}

// waitForWithin is waitFor for a wait that spans what the page does not
// pace: a server's restart, which the page, reconnecting with its backoff
// (doubled each try, up to 1.5× jittered), may next try up to 1.5 times as
// long after as the restart took.
func (b *browser) waitForWithin(t *testing.T, within time.Duration, what, script, want string) {
	t.Helper()
	pageTimeout := within
	deadline := time.Now().Add(pageTimeout)
	var got string
	var err error
	for time.Now().Before(deadline) {
		if got, err = b.eval(script); err == nil && got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	said, _ := b.eval(`return {status: [...document.querySelectorAll('.status')].map(s => s.textContent), error: document.getElementById('error').textContent}`)
	t.Fatalf("waited %s for %s: expected %s, got %s (error: %v); the page says %s", pageTimeout, what, want, got, err, said)
}

// screenshot returns a PNG of the window.
func (b *browser) screenshot(t *testing.T) []byte {
	t.Helper()
	var enc string
	if err := b.call(http.MethodGet, b.session+"/screenshot", nil, &enc); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return shot
}

// TestPageLoadsEarlierEventsOnceOnADoubleClick: "Load earlier events"
// clicked twice before the first page arrives shows each older event once,
// and every event of the stream can still be reached.
func TestPageLoadsEarlierEventsOnceOnADoubleClick(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 120, "OrderNoted")

	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's latest 50 events", `return document.querySelectorAll('#stream-events li').length`, "50")
	// The page is read once for two clicks: a second read of it would
	// show its events twice. Counted from the clicks, it is an answer a
	// slow machine cannot come too late for.
	b.run(t, `const fetch0 = window.fetch;
		window.pageReads = 0;
		window.fetch = (u, o) => {
			if (String(u).includes('direction=backward&from=70&')) window.pageReads++;
			return fetch0(u, o);
		};
		const b = document.getElementById('stream-earlier'); b.click(); b.click(); return null`)
	b.waitFor(t, "the page of earlier events in, read once", `return [document.querySelectorAll('#stream-events li').length, document.getElementById('stream-earlier').disabled, window.pageReads]`, "[100,false,1]")
	b.waitFor(t, "no earlier event shown twice", distinctVersionsJS, "true")
	for i := 0; i < 5 && b.run(t, `return document.getElementById('stream-earlier').hidden`) == "false"; i++ {
		b.run(t, `document.getElementById('stream-earlier').click(); return null`)
		b.waitFor(t, "that page of earlier events in", `return document.getElementById('stream-earlier').disabled`, "false")
	}
	b.waitFor(t, "every version once, newest first", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return v.length === 120 && v.every((x, i) => x === 120 - i)`, "true")
}

// distinctVersionsJS is true if the stream's list holds no version twice.
// It waits for nothing: a test asks it once the reads that could add a
// version twice are answered (it waited 500 ms in the page for them, which
// a loaded machine outlasts).
const distinctVersionsJS = `const v = [...document.querySelectorAll('#stream-events li')].map(li => li.dataset.version);
	return new Set(v).size === v.length`

// TestPageShowsDataNumbersAsStored: event data is returned byte for byte,
// and the page shows its numbers as written, even those a JavaScript
// number cannot hold (an int64 id) or would write another way (1.10): in
// the stream, live and loaded on demand, and in the live log.
func TestPageShowsDataNumbersAsStored(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, `{"stream_type":"account","events":[{"type":"Opened","data":{"account":9007199254740993,"price":1.10},"metadata":{"trace":12345678901234567891}}]}`)
	s.mustAppend(t, id, appendBody{Events: events(50, "Noted")})
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's latest 50 events", `return document.querySelectorAll('#stream-events li').length`, "50")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "version 1's data and metadata as stored, loaded on demand",
		`return document.querySelector('#stream-events li[data-version="1"]')?.textContent.match(/"account": \d+|"price": [\d.]+|"trace": \d+/g)`,
		`["\"account\": 9007199254740993","\"price\": 1.10","\"trace\": 12345678901234567891"]`)

	other := newID()
	b.navigate(t, s.URL+"/#/streams/"+other)
	b.waitFor(t, "the empty stream's live tail", statusJS, `"Live at version 0: caught up"`)
	s.mustAppend(t, other, `{"stream_type":"account","events":[{"type":"Opened","data":[18446744073709551615, 0.10]}]}`)
	b.waitFor(t, "live data as stored", `return document.querySelector('#stream-events li[data-version="1"] pre')?.textContent.replace(/\s+/g, '')`,
		`"[18446744073709551615,0.10]"`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the log's preview as stored", `return document.querySelector('#log-events li[data-position="1"] pre')?.textContent`,
		`"{\"account\":9007199254740993,\"price\":1.10}"`)
}

// TestPageLiveLogStartsAtTheLastHundredPositionsWhenOpened: the live log
// shows the last 100 positions of the log as it is when the view opens, not
// as it was when the page loaded: a page left open on another view does not
// replay everything since.
func TestPageLiveLogStartsAtTheLastHundredPositionsWhenOpened(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the empty stream list", `return document.getElementById('streams-caption').textContent`, `"No streams"`)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(150, "OrderNoted")})
	s.mustAppend(t, id, appendBody{Events: events(150, "OrderNoted")})
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"300"`)
	b.run(t, `location.hash = '#/'; return null`)
	b.waitFor(t, "the live log to be caught up", `return document.getElementById('log-status').textContent`, `"Live at position 300: caught up"`)
	b.waitFor(t, "positions 300 down to 201", `const p = `+strings.TrimPrefix(positionsJS, "return ")+`;
		return [p.length, p[0], p[p.length - 1]]`, "[100,300,201]")
}

// slowAnsweredJS defines slowAnswered, the pair of handlers a test's
// slowed fetch passes its outcome through: window.slowAnswered is true once
// the page has had that answer's body, or its failure (a view left aborts
// its reads), and a task more; the wait for a late answer that was a sleep
// of about twice its delay. window.slowAnswers counts those answers.
const slowAnsweredJS = `const answered = () => setTimeout(() => { window.slowAnswered = true; window.slowAnswers = (window.slowAnswers || 0) + 1; });
	const slowAnswered = [(res) => {
		res.clone().text().then(answered, answered);
		return res;
	}, (e) => {
		answered();
		throw e;
	}];
	`

// TestPageShowsTheStreamNavigatedTo: leaving a stream for another before
// the first one's details arrive shows the second one's details, and they
// follow its live tail; nothing of the first one lands in its view.
func TestPageShowsTheStreamNavigatedTo(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	first, second := newID(), newID()
	s.mustAppend(t, first, appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	s.mustAppend(t, second, appendBody{StreamType: "invoice", Events: events(2, "InvoiceNoted")})
	b.openStreamList(t, s, 2)
	// A slow answer for the first stream's details, as on a slow network;
	// the second stream is opened as they are asked for (100 ms after the
	// first was opened, a loaded machine could have had them in already).
	b.run(t, slowAnsweredJS+`const fetch0 = window.fetch;
		window.fetch = (u, o) => String(u) === '/streams/`+first+`'
			? new Promise((r) => { location.hash = '#/streams/`+second+`'; setTimeout(r, 1000); }).then(() => fetch0(u, o)).then(...slowAnswered) : fetch0(u, o);
		location.hash = '#/streams/`+first+`';
		return null`)
	b.waitFor(t, "the slow answer in", `return window.slowAnswered === true`, "true")
	b.waitFor(t, "the second stream's details", `return ['stream-title', 'stream-stream-type', 'stream-version'].map((id) => document.getElementById(id).textContent)`,
		`["Stream `+second+`","invoice","2"]`)
	b.waitFor(t, "the second stream's events only", versionsJS, "[2,1]")
	s.mustAppend(t, second, appendBody{Events: events(1, "InvoicePaid")})
	b.waitFor(t, "its version to follow the live tail", `return document.getElementById('stream-version').textContent`, `"3"`)
	b.waitFor(t, "its events only", versionsJS, "[3,2,1]")
	b.waitFor(t, "its status, not the first stream's", statusJS, `"Live at version 3"`)
}

// TestPageOpenedWhileTheDatabaseIsDownRecoversByItself: the page opened
// while the server answers 503 says so, and when it tries again (it quoted
// the server's "Try again after Retry-After." to a person before its own
// "Trying again in 2 s…"), and once the database is back
// shows the live log and the totals without a reload.
func TestPageOpenedWhileTheDatabaseIsDownRecoversByItself(t *testing.T) {
	t.Parallel()
	s, b, p := startPageBehindProxy(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(3, "OrderNoted")})

	p.Cut()
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the page to say the database cannot be reached", `return document.getElementById('error').textContent.includes('database cannot be reached')`, "true")
	// In a person's terms: the page tries again itself, and says when; the
	// server's advice to API clients, to retry after a header, is left out.
	b.waitFor(t, "the page to say when it tries again, and no header", `const m = document.getElementById('error').textContent;
		return [m.includes('Retry-After'), /Trying again in \d+ s/.test(m)]`, "[false,true]")
	p.Restore(t)
	b.waitFor(t, "the live log, without a reload", positionsJS, "[3,2,1]")
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageStreamsNextPageOnADoubleClick: "Next page" clicked twice before
// the page arrives moves one page on, and says which page it shows.
func TestPageStreamsNextPageOnADoubleClick(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for range 120 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the first page", `return document.getElementById('streams-caption').textContent`, `"Streams, page 1"`)
	first := b.run(t, `return document.querySelector('#streams-table tbody td').textContent`)
	// One page on is one read of the list, counted from the clicks: by the
	// time the second page is shown and in the link, any other read the
	// clicks made has started. It waited a second instead, which a loaded
	// machine outlasts.
	b.run(t, `const fetch0 = window.fetch;
		window.listReads = 0;
		window.fetch = (u, o) => {
			if (String(u).startsWith('/streams?')) window.listReads++;
			return fetch0(u, o);
		};
		const n = document.getElementById('streams-next'); n.click(); n.click(); return null`)
	b.waitFor(t, "the second page, in the link, read once", `return [document.getElementById('streams-caption').textContent, new URLSearchParams(location.hash.split('?')[1] || '').get('page'), window.listReads]`,
		`["Streams, page 2","2",1]`)
	b.run(t, `document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the third page, the last", `return [document.getElementById('streams-caption').textContent, document.querySelectorAll('#streams-table tbody tr').length, document.getElementById('streams-next').disabled]`,
		`["Streams, page 3",20,true]`)
	b.run(t, `document.getElementById('streams-first').click(); return null`)
	b.waitFor(t, "the first page again", `return [document.getElementById('streams-caption').textContent, document.querySelector('#streams-table tbody td').textContent]`,
		`["Streams, page 1",`+first+`]`)
}

// TestPageInEightTabsHoldsOneSubscription: a browser opens at most six
// connections to a server over HTTP/1.1, and an EventSource holds one for
// as long as it is open. Eight tabs of the page, on a stream and on the
// live log, are all live, and the server holds one subscription for all
// of them: one tab follows the log and passes it on to the others. When
// that tab closes, another takes over, and every remaining tab shows each
// new event once.
func TestPageInEightTabsHoldsOneSubscription(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")

	type tab struct{ handle, view string }
	var tabs []tab
	for i := range 8 {
		handle := b.window(t)
		if i > 0 {
			handle = b.newTab(t)
		}
		view := []string{"stream", "log", "filtered log"}[i%3]
		url := map[string]string{"stream": "/#/streams/" + id, "log": "/#/", "filtered log": "/#/?stream_type=order"}[view]
		b.navigate(t, s.URL+url)
		tabs = append(tabs, tab{handle, view})
	}
	// shows waits, in every tab from the first one given, for the view to
	// show the stream's versions down to 1, and the totals the position.
	shows := func(tabs []tab, version int) {
		t.Helper()
		var want []string
		for v := version; v >= 1; v-- {
			want = append(want, strconv.Itoa(v))
		}
		list := "[" + strings.Join(want, ",") + "]"
		for i, tb := range tabs {
			b.switchTo(t, tb.handle)
			what := fmt.Sprintf("tab %d (%s)", i+1, tb.view)
			if tb.view == "stream" {
				b.waitFor(t, what+" to show every version", versionsJS, list)
				b.waitFor(t, what+" to be live", `return document.getElementById('stream-status').className.includes('live')`, "true")
			} else {
				b.waitFor(t, what+" to show every position", positionsJS, list)
				b.waitFor(t, what+" to be live", `return document.getElementById('log-status').className.includes('live')`, "true")
			}
			b.waitFor(t, what+"'s log position at the top", `return document.getElementById('stat-position').textContent`, strconv.Quote(strconv.Itoa(version)))
			b.waitFor(t, what+" to have received nothing twice", `return document.body.dataset.anomalies || "none"`, `"none"`)
		}
	}
	subscriptions := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(pageTimeout)
		for {
			m := scrape(t, s)
			got := m[`tributary_subscriptions_open{endpoint="log"}`] + m[`tributary_subscriptions_open{endpoint="stream"}`]
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server holds %v subscriptions for the page's tabs; expected %v", got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	shows(tabs, 1)
	subscriptions(1)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	shows(tabs, 2)

	// The first tab took the lock first: it holds the connection.
	b.switchTo(t, tabs[0].handle)
	if err := b.call(http.MethodDelete, b.session+"/window", nil, nil); err != nil {
		t.Fatalf("close the first tab: %v", err)
	}
	tabs = tabs[1:]
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	shows(tabs, 3)
	subscriptions(1)
}

// window returns the handle of the tab commands go to.
func (b *browser) window(t *testing.T) string {
	t.Helper()
	var handle string
	if err := b.call(http.MethodGet, b.session+"/window", nil, &handle); err != nil {
		t.Fatalf("the tab's handle: %v", err)
	}
	return handle
}

// newTab opens a tab and makes it the one commands go to; it returns its
// handle.
func (b *browser) newTab(t *testing.T) string {
	t.Helper()
	var w struct {
		Handle string `json:"handle"`
	}
	if err := b.call(http.MethodPost, b.session+"/window/new", map[string]string{"type": "tab"}, &w); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	b.switchTo(t, w.Handle)
	return w.Handle
}

// switchTo makes the tab or window handle the one commands go to.
func (b *browser) switchTo(t *testing.T, handle string) {
	t.Helper()
	if err := b.call(http.MethodPost, b.session+"/window", map[string]string{"handle": handle}, nil); err != nil {
		t.Fatalf("switch to tab %s: %v", handle, err)
	}
}

// logTabThenStreamTab opens the live log in the current tab and the
// stream id, of one event, in a new one, each live; it returns the two
// tabs' handles, the new one current.
func (b *browser) logTabThenStreamTab(t *testing.T, s *server, id string) (first, second string) {
	t.Helper()
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the first tab's live log", positionsJS, "[1]")
	first = b.window(t)
	second = b.newTab(t)
	b.openLiveStream(t, s, id, 1, "the second tab's stream, live")
	return first, second
}

// twoLogTabs opens the live log, of one event, in the current tab and in a
// new one, each live; it returns the two tabs' handles, the new one
// current.
func (b *browser) twoLogTabs(t *testing.T, s *server) (first, second string) {
	t.Helper()
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the first tab's live log", positionsJS, "[1]")
	first = b.window(t)
	second = b.newTab(t)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the second tab's live log", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
	return first, second
}

// passOnNoEvents has the current tab, the one that follows the log, pass
// no event on to the other tabs (its other messages still go) until
// passEventsOnAgain.
func (b *browser) passOnNoEvents(t *testing.T) {
	t.Helper()
	b.run(t, `const post = BroadcastChannel.prototype.postMessage;
		window.restorePost = () => { BroadcastChannel.prototype.postMessage = post; };
		BroadcastChannel.prototype.postMessage = function (m) { if (m.kind !== 'event' && m.kind !== 'events') post.call(this, m); };
		return null`)
}

// passEventsOnAgain undoes passOnNoEvents in the current tab.
func (b *browser) passEventsOnAgain(t *testing.T) {
	t.Helper()
	b.run(t, `window.restorePost(); return null`)
}

// recordStreamStatus keeps, in the current tab's window.said, each text the
// stream's status shows from now on.
func (b *browser) recordStreamStatus(t *testing.T) {
	t.Helper()
	b.run(t, `window.said = [];
		new MutationObserver(() => window.said.push(document.getElementById('stream-status').textContent))
			.observe(document.getElementById('stream-status'), { childList: true, characterData: true, subtree: true });
		return null`)
}

// pageWaits waits for d to pass in the page, by a timer of its own: the
// page's timers set before it (its check for a silent connection, every
// half heartbeat) have run by then, however late a loaded machine runs
// them. A sleep of d in the test did not wait for them.
func (b *browser) pageWaits(t *testing.T, d time.Duration, what string) {
	t.Helper()
	b.run(t, fmt.Sprintf(`window.waited = false; setTimeout(() => { window.waited = true; }, %d); return null`, d.Milliseconds()))
	b.waitForWithin(t, d+pacedWait, what+", in the page", `return window.waited`, "true")
}

// saidHeardNothing returns, as a JSON array, the texts recordStreamStatus
// kept that say the page heard nothing from the server.
func (b *browser) saidHeardNothing(t *testing.T) string {
	t.Helper()
	return b.run(t, `return window.said.filter((s) => s.startsWith('Heard nothing'))`)
}

// TestPageTabThatMissedEventsReadsThemFromTheLog: a tab handed a position
// past the next one it expects (it opened, or the tab that follows the log
// took over, at another point) reads the positions it lacks from the log
// first: it shows each event once, in order. The tab that follows the log
// is made to pass two events on to no one.
func TestPageTabThatMissedEventsReadsThemFromTheLog(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	first, second := b.logTabThenStreamTab(t, s, id)

	b.switchTo(t, first)
	b.passOnNoEvents(t)
	s.mustAppend(t, id, appendBody{Events: events(2, "OrderNoted")})
	b.waitFor(t, "the first tab to show them", positionsJS, "[3,2,1]")
	b.passEventsOnAgain(t)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the first tab to show the next", positionsJS, "[4,3,2,1]")

	b.switchTo(t, second)
	b.waitFor(t, "the second tab to show every version once, in order", versionsJS, "[4,3,2,1]")
	b.waitFor(t, "its totals", `return ['stat-position', 'stat-seen'].map((id) => document.getElementById(id).textContent)`, `["4","3"]`)
	// It was behind while it read them, and says it caught up since: at 4,
	// or at 3 where the holder's state after the batch it lost had it read
	// them before 4 came (the count that follows, quiet, says no more).
	b.waitFor(t, "its status", `return /^Live at version 4(: caught up)?$/.test(document.getElementById('stream-status').textContent) &&
		/^Live at version [34]: caught up$/.test(document.getElementById('stream-said').textContent)`, "true")
}

// TestPageStreamTailPausedShowsWhatCameMeanwhileOnResume: a paused live
// tail shows nothing new; resumed, it shows what was appended meanwhile,
// then follows the stream live again.
func TestPageStreamTailPausedShowsWhatCameMeanwhileOnResume(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.openLiveStream(t, s, id, 2, "the stream, live")
	b.pauseTail(t)
	s.mustAppend(t, id, appendBody{Events: events(3, "OrderNoted")})
	b.waitFor(t, "the log position at the top, which goes on", `return document.getElementById('stat-position').textContent`, `"5"`)
	b.waitFor(t, "nothing new in the paused stream", versionsJS, "[2,1]")
	b.run(t, `document.getElementById('stream-pause').click(); return null`)
	b.waitFor(t, "what came meanwhile", versionsJS, "[5,4,3,2,1]")
	b.waitFor(t, "the tail live again", statusJS, `"Live at version 5: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live", versionsJS, "[6,5,4,3,2,1]")
	b.waitFor(t, "the status following it", statusJS, `"Live at version 6"`)
}

// TestPageStreamViewRecoversFromAFailedHistoryRead: the stream's history
// is read with fetch before its live tail starts; when that read fails
// (the network drops it, the server restarts), the view reads it again
// once it can and goes live, instead of waiting for it forever.
func TestPageStreamViewRecoversFromAFailedHistoryRead(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.openStreamList(t, s, 1)
	// The first read of the stream's events is lost, as in a network drop.
	b.run(t, `const fetch0 = window.fetch;
		let failed = false;
		window.fetch = (u, o) => {
			if (!failed && String(u).startsWith('/streams/`+id+`/events')) {
				failed = true;
				return Promise.reject(new TypeError('Failed to fetch'));
			}
			return fetch0(u, o);
		};
		location.hash = '#/streams/`+id+`';
		return null`)
	b.waitFor(t, "the stream's events, read again", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageTabReloadedAfterTheDatabaseWasResetFollowsTheNewLog: the
// database is reset under two open tabs; the tab that follows the log for
// both is refused (its starting point is past the new log's head) and says
// so. The other tab, reloaded, starts from the new log and follows it: a
// tab that cannot follow the log does not hold it for the others.
func TestPageTabReloadedAfterTheDatabaseWasResetFollowsTheNewLog(t *testing.T) {
	t.Parallel()
	s, b := startRestartablePage(t, "TRIBUTARY_MYSQL_DSN=")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the first tab's live log", positionsJS, "[3,2,1]")
	first := b.window(t)
	second := b.newTab(t)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the second tab's live log", positionsJS, "[3,2,1]")

	// A new, empty database at the same address.
	s2 := s.restartAt(t, "TRIBUTARY_MYSQL_DSN=")
	b.switchTo(t, first)
	b.waitFor(t, "the first tab to say it stopped", `return document.getElementById('log-status').textContent.startsWith('Stopped')`, "true")

	b.switchTo(t, second)
	if err := b.call(http.MethodPost, b.session+"/refresh", map[string]any{}, nil); err != nil {
		t.Fatalf("reload the second tab: %v", err)
	}
	b.waitFor(t, "the reloaded tab to be live", `return document.getElementById('log-status').textContent`, `"Live at position 0: caught up"`)
	s2.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.waitFor(t, "the new log's events in the reloaded tab", positionsJS, "[2,1]")
	b.waitFor(t, "its log position at the top", `return document.getElementById('stat-position').textContent`, `"2"`)
}

// TestPageTabsAskForANewTokenWhenTheServerRefusesTheirs: the server
// restarts with other tokens under two open tabs. The tab that follows the
// log for both is refused, and so is the other: each asks for a token in
// its own tab, and shows what is new only once it has one the server
// takes, whichever tab got one first.
func TestPageTabsAskForANewTokenWhenTheServerRefusesTheirs(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	const writer, old, fresh = "w-0123456789abcdef", "r-0123456789abcdef", "r-fedcba9876543210"
	s := startRestartableServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=app:write:"+writer+",dash:read:"+old)
	b := startBrowser(t, chromium, driver)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")}, "Authorization", "Bearer "+writer)
	giveToken := func(what, secret string) {
		t.Helper()
		b.waitFor(t, what+": the token dialog", `return document.getElementById('token-dialog').open`, "true")
		b.run(t, `document.getElementById('token-input').value = '`+secret+`';
			document.getElementById('token-form').requestSubmit(); return null`)
	}
	b.navigate(t, s.URL+"/#/")
	giveToken("the first tab", old)
	b.waitFor(t, "the first tab's live log", positionsJS, "[2,1]")
	first := b.window(t)
	b.newTab(t)
	b.navigate(t, s.URL+"/#/")
	giveToken("the second tab", old)
	b.waitFor(t, "the second tab's live log", positionsJS, "[2,1]")
	b.waitFor(t, "the second tab, live", `return document.getElementById('log-status').className.includes('live')`, "true")

	s2 := s.restartAt(t, append(slices.Clone(s.StoreEnv), "TRIBUTARY_API_TOKENS=app:write:"+writer+",dash:read:"+fresh)...)
	giveToken("the second tab, whose token the server refuses", fresh)
	s2.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")}, "Authorization", "Bearer "+writer)
	b.waitFor(t, "the second tab to show the new event", positionsJS, "[3,2,1]")
	b.waitFor(t, "the second tab, live", `return document.getElementById('log-status').className.includes('live')`, "true")

	b.switchTo(t, first)
	b.waitFor(t, "the first tab's token dialog", `return document.getElementById('token-dialog').open`, "true")
	b.waitFor(t, "nothing new in the first tab, whose token the server refuses", positionsJS, "[2,1]")
	giveToken("the first tab", fresh)
	b.waitFor(t, "the first tab to show the new event once it has a token", positionsJS, "[3,2,1]")
	b.waitFor(t, "the first tab to have received nothing twice", `return document.body.dataset.anomalies || "none"`, `"none"`)
}

// TestPageTabReadingWhatItMissedDoesNotSayLive: a tab handed a position
// past the next one it expects reads what it lacks from the log; until it
// has, it is behind, and its status says so rather than "Live". Here its
// read of the log is held back, and the tab that follows the log passes
// two events on to no one.
func TestPageTabReadingWhatItMissedDoesNotSayLive(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	first, second := b.twoLogTabs(t, s)
	// Its reads of the log wait until the test lets them go.
	b.run(t, `const fetch0 = window.fetch;
		let release;
		const held = new Promise((r) => { release = r; });
		window.release = () => release();
		window.fetch = (u, o) => /^\/events\?after=\d+&limit=/.test(String(u)) ? held.then(() => fetch0(u, o)) : fetch0(u, o);
		return null`)

	b.switchTo(t, first)
	b.passOnNoEvents(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.waitFor(t, "the first tab to show them", positionsJS, "[3,2,1]")
	b.passEventsOnAgain(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderShipped")})
	b.waitFor(t, "the first tab to show the next", positionsJS, "[4,3,2,1]")

	b.switchTo(t, second)
	b.waitFor(t, "the second tab, still reading what it missed, not to say it is live",
		`return [document.getElementById('log-status').className.includes('live'), document.getElementById('log-status').textContent]`,
		`[false,"Connected; reading what was missed…"]`)
	b.waitFor(t, "nothing shown out of order meanwhile", positionsJS, "[1]")
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "every position once, in order", positionsJS, "[4,3,2,1]")
	b.waitFor(t, "the second tab live again", `return document.getElementById('log-status').textContent`, `"Live at position 4: caught up"`)
}

// TestPageTabToldOfAPositionPastTheLogSkipsNothing: a tab that follows the
// log for the others tells each tab that opens its position, and a tab
// behind it reads up to it. A holder can be past the log's head: the
// database was reset, and the server has not yet refused it (its
// EventSource waits 2 s before it reconnects). The tab told so finds
// nothing to read, and must not take that position for its own: it shows
// the new log's events when they come. Here a holder's message saying so
// is posted from the first tab.
func TestPageTabToldOfAPositionPastTheLogSkipsNothing(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	first, second := b.twoLogTabs(t, s)

	b.run(t, `performance.clearResourceTimings(); return null`) // its reads as it opened
	b.switchTo(t, first)
	b.run(t, `new BroadcastChannel('tributary.log').postMessage({kind: 'state', phase: 'live', text: '', pos: 1000}); return null`)
	b.switchTo(t, second)
	b.waitFor(t, "its read of the log up to 1000 answered: nothing", `return performance.getEntriesByType('resource').some((r) => /\/events\?after=1&limit=/.test(r.name))`, "true")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.waitFor(t, "the second tab to show the log's next events", positionsJS, "[3,2,1]")
	b.waitFor(t, "its log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
}

// TestPageTabHandedAnEventPastAGapSkipsNoneThatCameMeanwhile: a tab handed
// an event past the next position it expects reads what it lacks first;
// the read found nothing (a gap in the log: the holder follows a log this
// tab cannot read up to) and the tab took the position before that event
// for the last it showed, its event id forgotten: an event handed on while
// that read was on its way, before that position, was then dropped as
// shown, and the tab went on from a position it had shown nothing at. It
// goes on from the last event it showed: each event handed on is shown
// once, in order. The first tab, which follows the log, posts the batches;
// the second tab's read is held until the second batch is in.
func TestPageTabHandedAnEventPastAGapSkipsNoneThatCameMeanwhile(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	first, second := b.twoLogTabs(t, s)
	b.run(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => /^\/events\?after=1&limit=/.test(String(u)) && !window.release
			? new Promise((r) => { window.release = r; }).then(() => fetch0(u, o)) : fetch0(u, o);
		return null`)

	b.switchTo(t, first)
	b.run(t, `window.batch = async (...ps) => {
			const e = (await (await fetch('/events?after=0&limit=1')).json()).events[0];
			new BroadcastChannel('tributary.log').postMessage({kind: 'events', events: ps.map((p) => [p, JSON.stringify({...e, id: crypto.randomUUID(), position: p})])});
		};
		return window.batch(3).then(() => null)`)
	b.switchTo(t, second)
	b.waitFor(t, "the second tab's read of what it lacks, held", `return typeof window.release`, `"function"`)
	b.switchTo(t, first)
	b.run(t, `return window.batch(2).then(() => null)`)
	b.switchTo(t, second)
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "each event handed on once, in order", positionsJS, "[3,2,1]")
}

// TestPageStreamTailPausedBeforeItsHistoryArrivesShowsEachEventOnce: the
// live tail paused and resumed before the stream's latest events have
// arrived shows them, then every older one on demand, each once.
func TestPageStreamTailPausedBeforeItsHistoryArrivesShowsEachEventOnce(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 120, "OrderNoted")
	b.openStreamList(t, s, 1)
	// A slow answer for the stream's latest events, as on a slow network.
	// The tail is paused and resumed as the first is asked for (a task on,
	// once the view has its pause button): 300 ms after the view opened, a
	// loaded machine could have had that answer in already.
	b.run(t, slowAnsweredJS+`const fetch0 = window.fetch;
		window.slowReads = 0;
		window.fetch = (u, o) => {
			if (!String(u).includes('direction=backward&limit=')) return fetch0(u, o);
			const first = window.slowReads++ === 0;
			return new Promise((r) => setTimeout(() => {
				if (first) { const p = document.getElementById('stream-pause'); p.click(); p.click(); }
				setTimeout(r, 1000);
			})).then(() => fetch0(u, o)).then(...slowAnswered);
		};
		location.hash = '#/streams/`+id+`';
		return null`)
	b.waitFor(t, "the slow answer in", `return window.slowAnswered === true`, "true")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 120: caught up"`)
	b.waitFor(t, "every slow read answered, and no event shown twice", `return [window.slowReads === window.slowAnswers, (() => { `+distinctVersionsJS+` })()]`, "[true,true]")
	for i := 0; i < 5 && b.run(t, `return document.getElementById('stream-earlier').hidden`) == "false"; i++ {
		b.run(t, `document.getElementById('stream-earlier').click(); return null`)
		b.waitFor(t, "that page of earlier events in", `return document.getElementById('stream-earlier').disabled`, "false")
	}
	b.waitFor(t, "every version once, newest first", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return [v.length, v.every((x, i) => x === 120 - i)]`, "[120,true]")
}

// TestPageLongNamesStayInsideTheWindow: a stream type and an event type of
// the longest length allowed, one unbroken word each, wrap inside their
// event's box in the live log and in the stream's view: the page does not
// grow wider than the window; nor does the list of streams.
func TestPageLongNamesStayInsideTheWindow(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "S" + strings.Repeat("s", 127), Events: events(1, "E"+strings.Repeat("e", 127))})
	const overflowJS = `return document.documentElement.scrollWidth <= window.innerWidth`
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the event in the live log", positionsJS, "[1]")
	b.waitFor(t, "the live log no wider than the window", overflowJS, "true")
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's event", versionsJS, "[1]")
	b.waitFor(t, "the stream's view no wider than the window", overflowJS, "true")
	// In the list of streams, the long type pushed every row's version and
	// times out of sight, behind the table's own scroll bar.
	b.run(t, `location.hash = '#/streams'; return null`)
	b.waitFor(t, "the stream list", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	b.waitFor(t, "the list's last column in sight", `return document.querySelector('#streams-table th:last-child').getBoundingClientRect().right <=
		document.querySelector('#view-streams .scroll').getBoundingClientRect().right`, "true")
}

// TestPageStreamListShowsATypeOfOrdinaryLengthOnOneLine: the list of
// streams kept its times whole on one line each (27 characters, to the
// microsecond), and the Type column, the one that may wrap, was squeezed
// to its least: in a window 1,100 pixels wide "InventoryReservationExpired"
// was cut in two mid-word, beside room to spare. The times say the date and
// the second (the whole in their title and datetime), and wrap between
// the two where the window is narrow: such a type is on one line.
func TestPageStreamListShowsATypeOfOrdinaryLengthOnOneLine(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "InventoryReservationExpired", Events: events(1, "E")})
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the stream list", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	b.run(t, `window.resizeTo?.(1100, 800); return null`)
	got := b.run(t, `const td = document.querySelector('#streams-table tbody td:nth-child(2)');
		const r = document.createRange();
		r.selectNodeContents(td);
		const time = document.querySelector('#streams-table tbody td:nth-child(4) time');
		return [window.innerWidth <= 1100, r.getClientRects().length, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/.test(time.dateTime), time.title === time.dateTime]`)
	if got != "[true,1,true,true]" {
		t.Errorf("the list in a window at most 1,100 pixels wide: [narrow enough, lines of the type, the time's datetime whole, its title the same] = %s; want [true,1,true,true]", got)
	}
}

// TestPageShowsBidiControlsInDataAsEscapes: an event's data holding a
// right-to-left override (U+202E) with no end to it, which turned the rest
// of the live log's one-line preview around ({"memo":"{001:"tnuoma",…),
// shows the control as its JSON escape, in the log and in the stream's
// view; the data's other characters are shown as they are.
func TestPageShowsBidiControlsInDataAsEscapes(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "payment", Events: []newEvent{{Type: "PaymentSent",
		Data: json.RawMessage(`{"memo":"\u202e","rtl":"\u05e9\u05dc\u05d5\u05dd \u2067x\u2069","amount":100}`)}}})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the event in the live log", positionsJS, "[1]")
	b.waitFor(t, "the preview with the controls escaped", `return document.querySelector('#log-events pre').textContent`,
		`"{\"memo\":\"\\u202e\",\"rtl\":\"שלום \\u2067x\\u2069\",\"amount\":100}"`)
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's event", versionsJS, "[1]")
	b.waitFor(t, "the data with the controls escaped", `return document.querySelector('#stream-events pre').textContent`,
		`"{\n  \"memo\": \"\\u202e\",\n  \"rtl\": \"שלום \\u2067x\\u2069\",\n  \"amount\": 100\n}"`)
}

// TestPageViewWhoseReadIsRefusedShowsNothingOfThePreviousOne: a view whose
// first read the server refuses (a stream type that is no name, the nil
// stream id) shows the error, and nothing of the view before it: the list
// of every stream stayed under the filter, as its "page 1", and the last
// stream's details and "Paused" under the other stream's title, with a
// pause button that restarted the last stream's tail.
func TestPageViewWhoseReadIsRefusedShowsNothingOfThePreviousOne(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.openStreamList(t, s, 1)
	b.run(t, `location.hash = '#/streams?stream_type=1bad'; return null`)
	b.waitFor(t, "the refusal", `return document.getElementById('error').textContent.includes('must start with a letter')`, "true")
	b.waitFor(t, "no stream listed under the filter", `return [document.querySelectorAll('#streams-table tbody tr').length,
		document.getElementById('streams-caption').textContent.includes('page 1'), document.getElementById('streams-next').disabled]`, "[0,false,true]")

	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
	b.waitFor(t, "its live tail", `return document.getElementById('stream-status').className.includes('live')`, "true")
	const nilID = "00000000-0000-0000-0000-000000000000"
	b.run(t, `location.hash = '#/streams/`+nilID+`'; return null`)
	b.waitFor(t, "the refusal", `return document.getElementById('error').textContent.includes('nil UUID')`, "true")
	b.waitFor(t, "nothing of the last stream", `return [document.getElementById('stream-info').textContent.includes('order'),
		document.getElementById('stream-status').textContent === 'Paused', document.getElementById('stream-pause').hidden]`, "[false,false,true]")
	// Nothing happens, shown by what would have: the last stream's tail,
	// restarted, would read it, or show its next event, which the totals
	// at the top show the page has had. It waited a second instead.
	b.run(t, `const fetch0 = window.fetch;
		window.lastReads = 0;
		window.fetch = (u, o) => {
			if (String(u).includes('`+id+`')) window.lastReads++;
			return fetch0(u, o);
		};
		document.getElementById('stream-pause').click(); document.getElementById('stream-pause').click(); return null`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderNoted")})
	b.waitFor(t, "the last stream's next event, at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
	b.waitFor(t, "no event of the last stream, nor a read of it", `return [`+strings.TrimPrefix(versionsJS, "return ")+`, window.lastReads]`, "[[],0]")
}

// TestPageStoppedByADatabaseResetSaysToReload: the server restarts on an
// empty database under an open page, whose live log stops; it says why
// and what to do in the page's terms, a reload, where it quoted the
// server's advice to API clients ("subscribe again from … after=0").
func TestPageStoppedByADatabaseResetSaysToReload(t *testing.T) {
	t.Parallel()
	s, b := startRestartablePage(t, "TRIBUTARY_MYSQL_DSN=")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log", positionsJS, "[3,2,1]")
	s.restartAt(t, "TRIBUTARY_MYSQL_DSN=")
	const want = `"Stopped: this server's log ends at position 0, before position 3, which this page has shown: its database was reset or restored. Reload the page to follow its log."`
	b.waitFor(t, "the live log to say it stopped, and to reload", `return document.getElementById('log-status').textContent`, want)
	b.waitFor(t, "the error to say so too", `return document.getElementById('error').textContent`,
		`"The live log stopped: `+strings.TrimPrefix(want, `"Stopped: `))
}

// TestPageStreamTailKeepsItsNewestEventsAndLoadsTheRestOnDemand: a stream's
// live tail keeps its newest 500 events, as the live log does, and offers
// the older ones with "Load earlier events": it kept every event that came
// while it was open, and 5,000 of them, each laid out again as the next
// came, took it 8 s to show where the live log took 1.4 s; 10,000, 36 s.
func TestPageStreamTailKeepsItsNewestEventsAndLoadsTheRestOnDemand(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	b.openLiveStream(t, s, id, 1, "the live tail")
	s.mustAppend(t, id, appendBody{Events: events(600, "OrderNoted")})
	const shownJS = `const v = ` + `[...document.querySelectorAll('#stream-events li')].map(li => Number(li.dataset.version))` + `;
		return [v.length, v[0], v[v.length - 1], v.every((x, i) => i === 0 || x === v[i - 1] - 1), document.getElementById('stream-earlier').hidden]`
	b.waitFor(t, "the newest 500 versions, 601 to 102, and the button for the rest", shownJS, "[500,601,102,true,false]")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "50 more, down to 52", shownJS, "[550,601,52,true,false]")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "a live event in, the oldest out", shownJS, "[550,602,53,true,false]")
}

// TestPageAnnouncesTheLiveStatusOnlyWhenItChanges: a screen reader hears
// the live log's status when the connection's state changes, not at every
// event: its live region (role=status) read out "Live at position N" for
// each event of a busy log, over everything else. What is shown still
// follows every event.
func TestPageAnnouncesTheLiveStatusOnlyWhenItChanges(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
	b.run(t, `window.announced = [];
		const regions = [...document.querySelectorAll('#view-log [role=status], #view-log [aria-live]:not([aria-live=off])')];
		const seen = new MutationObserver(() => window.announced.push(regions.map((r) => r.textContent).join('|')));
		for (const r of regions) seen.observe(r, {childList: true, characterData: true, subtree: true});
		return null`)
	for range 3 {
		s.mustAppend(t, id, appendBody{Events: events(1, "OrderNoted")})
	}
	b.waitFor(t, "the status to follow the log", `return document.getElementById('log-status').textContent`, `"Live at position 4"`)
	b.waitFor(t, "nothing announced for the events", `return window.announced`, `[]`)
	b.waitFor(t, "the state announced, once", `return document.getElementById('log-said').textContent`, `"Live at position 1: caught up"`)
}

// TestPageSaysAStreamPathWithoutAStreamIDIsNotAStream: #/streams/ followed
// by something that is not a stream id showed the live log, silently, as
// if the link were right. It now says the id is not a stream id, in the
// stream's view, and reads nothing.
func TestPageSaysAStreamPathWithoutAStreamIDIsNotAStream(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	for _, path := range []string{"not-a-uuid", newID() + "x", "------------------------------------", newID() + "/events", "%E2%80%AE"} {
		b.navigate(t, s.URL+"/#/streams/"+path)
		b.waitFor(t, "#/streams/"+path+" to say it names no stream", `return [document.getElementById('view-log').hidden, document.getElementById('view-stream').hidden,
			document.getElementById('error').textContent.includes('is not a stream id'), document.getElementById('stream-status').textContent,
			document.querySelectorAll('#stream-events li, #log-events li').length]`, `[true,false,true,"",0]`)
	}
}

// TestPageShowsALargeEventAsAPreview: an event of 1 MiB was printed in full
// in a stream's view, a megabyte of text to lay out, live or read. It is
// shown as a bounded preview, with a button that shows the whole, and back.
func TestPageShowsALargeEventAsAPreview(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	big := strings.Repeat("x", 1<<20-64) // 1 MiB of data and metadata is the most one event may hold
	s.mustAppend(t, id, appendBody{StreamType: "blob", Events: []newEvent{{Type: "Stored", Data: map[string]string{"blob": big}}}})
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's event", versionsJS, "[1]")
	const shownJS = `const li = document.querySelector('#stream-events li[data-version="%d"]');
		const pre = li?.querySelector('pre'), more = li?.querySelector('button');
		return [pre?.textContent.length < 5000, more?.textContent.startsWith('Show all'), more?.getAttribute('aria-expanded')]`
	b.waitFor(t, "a bounded preview and a button for the rest", fmt.Sprintf(shownJS, 1), `[true,true,"false"]`)
	b.run(t, `document.querySelector('#stream-events li[data-version="1"] button').click(); return null`)
	b.waitFor(t, "the whole event", `const li = document.querySelector('#stream-events li[data-version="1"]');
		return [li.querySelector('pre').textContent.length > 1048000, li.querySelector('button').getAttribute('aria-expanded')]`, `[true,"true"]`)
	b.run(t, `document.querySelector('#stream-events li[data-version="1"] button').click(); return null`)
	b.waitFor(t, "the preview again", `return document.querySelector('#stream-events li[data-version="1"] pre').textContent.length < 5000`, "true")

	s.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "Stored", Data: map[string]string{"blob": big}}}})
	b.waitFor(t, "the live event as a bounded preview", fmt.Sprintf(shownJS, 2), `[true,true,"false"]`)
	s.mustAppend(t, id, appendBody{Events: []newEvent{{Type: "Noted", Data: map[string]string{"small": "yes"}}}})
	b.waitFor(t, "a small event in full, with no button", `const li = document.querySelector('#stream-events li[data-version="3"]');
		return li && [li.querySelector('pre').textContent, li.querySelectorAll('button').length]`, `["{\n  \"small\": \"yes\"\n}",0]`)
}

// TestPageSaysTheDatabaseIsUnavailableUnderAnOpenStream: MariaDB becomes
// unreachable under an open stream's view. The server keeps the
// subscription open (its keep-alives go on, which a page cannot see), and
// the page went on saying "Live … caught up" for as long as the outage
// lasted. It now says what the server reports (/readyz), and goes live
// again once the database is back, with what was written since.
func TestPageSaysTheDatabaseIsUnavailableUnderAnOpenStream(t *testing.T) {
	t.Parallel()
	s, b, p := startPageBehindProxy(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.openLiveStream(t, s, id, 2, "the live tail")

	p.Cut()
	b.waitFor(t, "the status to say the database is unavailable", `const s = document.getElementById('stream-status');
		return [s.className.includes('down'), s.textContent.includes('database')]`, "[true,true]")
	b.waitFor(t, "a screen reader told so too", `return document.getElementById('stream-said').textContent.includes('database')`, "true")
	p.Restore(t)
	b.waitFor(t, "the live tail again once the database is back", statusJS, `"Live at version 2: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
}

// TestPageLogPositionFollowsADatabaseReset: the server restarts on an
// empty database under an open page, whose live log stops and says to
// reload. The totals at the top show what the server has now: they kept
// the old log's position and stream count until a reload.
func TestPageLogPositionFollowsADatabaseReset(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startRestartableServer(t, k.ServerEnv...)
		b := startBrowser(t, chromium, driver)
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
		b.navigate(t, s.URL+"/#/")
		b.waitFor(t, "the live log", positionsJS, "[3,2,1]")
		b.waitFor(t, "the totals", `return ['stat-position', 'stat-streams'].map((id) => document.getElementById(id).textContent)`, `["3","1"]`)
		s.restartAt(t, k.ServerEnv...) // a fresh database (or directory) at the same address
		b.waitFor(t, "the live log to say it stopped", `return document.getElementById('log-status').textContent.startsWith('Stopped')`, "true")
		b.waitFor(t, "the totals of the log the server has now", `return ['stat-position', 'stat-streams'].map((id) => document.getElementById(id).textContent)`, `["0","0"]`)
	})
}

// TestPageTakesATokenPastASCII: the server takes a token of any characters
// but controls and spaces (pässwört…€), and a browser's EventSource sends
// one as ?access_token=, in UTF-8. The page's fetch sent it as a header,
// which fetch refuses for a character past U+00FF (the page said the
// server could not be reached, and tried again forever) and sends as one
// Latin-1 byte below it (refused as another token). It now shows the log
// with it, and follows it live.
func TestPageTakesATokenPastASCII(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	const writer = "w-0123456789abcdef"
	for _, secret := range []string{"pässwört-0123456789-€", "pässwört-0123456789"} {
		s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=app:write:"+writer+",dash:read:"+secret)
		b := startBrowser(t, chromium, driver)
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")}, "Authorization", "Bearer "+writer)
		b.navigate(t, s.URL+"/#/")
		b.waitFor(t, "the token dialog", `return document.getElementById('token-dialog').open`, "true")
		b.run(t, `document.getElementById('token-input').value = '`+secret+`';
			document.getElementById('token-form').requestSubmit(); return null`)
		b.waitFor(t, "the live log, read with "+secret, positionsJS, "[2,1]")
		b.waitFor(t, "the live log, live", `return document.getElementById('log-status').className.includes('live')`, "true")
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")}, "Authorization", "Bearer "+writer)
		b.waitFor(t, "a live event", positionsJS, "[3,2,1]")
		b.waitFor(t, "the totals, read with "+secret, `return document.getElementById('stat-streams').textContent`, `"2"`)
		b.waitFor(t, "no second token prompt", `return document.getElementById('token-dialog').open`, "false")
	}
}

// TestPageShowsDeeplyNestedData: event data nested 9,000 deep, which the
// server takes (JSON may nest 10,000 deep), was more than the page's JSON
// parser with its reviver and JSON.stringify could take: the live log
// stopped ("Cannot read properties of null") and the stream's view showed
// no event and said it was caught up at version 0. Both now show every
// event: the deep one's data, in the live log, as a note that it is too
// deep to show; in the stream's view, as the beginning of its text, which
// the page writes with a stack of its own.
func TestPageShowsDeeplyNestedData(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	deep := strings.Repeat("[", 9000) + strings.Repeat("]", 9000)
	s.mustAppend(t, id, `{"stream_type":"deep","events":[{"type":"Nested","data":`+deep+`},{"type":"Flat","data":{"n":1}}]}`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log, every event", positionsJS, "[2,1]")
	b.waitFor(t, "the live log, live", `return document.getElementById('log-status').textContent`, `"Live at position 2: caught up"`)
	b.waitFor(t, "the deep data as a note", `return document.querySelector('#log-events li[data-position="1"] pre').textContent.includes('too deep')`, "true")
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
	b.waitFor(t, "its live tail", statusJS, `"Live at version 2: caught up"`)
	s.mustAppend(t, id, `{"events":[{"type":"Nested","data":`+deep+`}]}`)
	b.waitFor(t, "a deep event live", versionsJS, "[3,2,1]")
	b.waitFor(t, "the beginning of its data", `return document.querySelector('#stream-events li[data-version="3"] pre').textContent.startsWith('[\n  [\n    [\n')`, "true")
	b.waitFor(t, "no error", `return document.getElementById('error').textContent`, `""`)
}

// TestPageShowsInvisibleCharactersInDataAsEscapes: a zero-width space, a
// word joiner, a soft hyphen or a byte order mark in event data showed as
// nothing, so that "alice\u200b" read as "alice" and a key as another
// key. They show as their JSON escapes, as the bidirectional controls do;
// a joiner inside an emoji sequence is left as it is.
func TestPageShowsInvisibleCharactersInDataAsEscapes(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "payment", Events: []newEvent{{Type: "PaymentSent",
		Data: json.RawMessage(`{"to":"alice\u200b","am\u2060ount":"1\u00ad000","bom":"\ufeff","family":"\ud83d\udc68\u200d\ud83d\udc67"}`)}}})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the event in the live log", positionsJS, "[1]")
	b.waitFor(t, "the preview with the invisible characters escaped", `return document.querySelector('#log-events pre').textContent`,
		`"{\"to\":\"alice\\u200b\",\"am\\u2060ount\":\"1\\u00ad000\",\"bom\":\"\\ufeff\",\"family\":\"👨‍👧\"}"`)
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's event", versionsJS, "[1]")
	b.waitFor(t, "the data with the invisible characters escaped", `return document.querySelector('#stream-events pre').textContent.includes('"alice\\u200b"')`, "true")
}

// TestPageChecksReadinessOneRequestAtATime: the page asks /readyz every
// 5 s while it is live; a server that does not answer it (stalled, or a
// slow network) must not collect one request more at each check, each
// holding one of the six connections a browser opens to a server, until
// none is left for the page's reads. A check that has not answered when
// the next is due is given up.
func TestPageChecksReadinessOneRequestAtATime(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
	// /readyz answers nothing, until the request is aborted.
	b.run(t, `const fetch0 = window.fetch;
		window.readyz = {calls: 0, pending: 0, most: 0};
		window.fetch = (u, o) => {
			if (String(u) !== '/readyz') return fetch0(u, o);
			const r = window.readyz;
			r.calls++; r.pending++; r.most = Math.max(r.most, r.pending);
			return new Promise((_, reject) => o?.signal?.addEventListener('abort', () => { r.pending--; reject(new DOMException('aborted', 'AbortError')); }));
		};
		return null`)
	// Three checks, each due while the one before hangs: paced by the
	// page's timer, waited for, not slept through (17 s, which a loaded
	// machine outlasts, the checks not yet made).
	b.waitForWithin(t, pacedWait, "three checks, or two at once", `const r = window.readyz; return r.calls >= 3 || r.most > 1`, "true")
	if got := b.run(t, `return window.readyz.most`); got != "1" {
		t.Errorf("checks of /readyz on their way at once: at most %s; want 1", got)
	}
	b.waitFor(t, "the live log still caught up", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
}

// TestPageStopsTheReadsOfAViewItLeaves: a view's reads still on their way
// when the person goes to another view are given up. They went on: a
// stream of fifty 1 MiB events, left while its latest events came over a
// slow network, went on taking the bandwidth and one of the six
// connections a browser opens to a server, for minutes. Here the first
// stream's read never answers unless it is given up.
func TestPageStopsTheReadsOfAViewItLeaves(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	first, second := newID(), newID()
	s.mustAppend(t, first, appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	s.mustAppend(t, second, appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
	b.openStreamList(t, s, 2)
	b.run(t, `const fetch0 = window.fetch;
		window.held = 0;
		window.fetch = (u, o) => {
			if (!String(u).startsWith('/streams/`+first+`/events')) return fetch0(u, o);
			window.held++;
			return new Promise((_, reject) => o?.signal?.addEventListener('abort', () => { window.held--; reject(new DOMException('aborted', 'AbortError')); }));
		};
		location.hash = '#/streams/`+first+`';
		return null`)
	b.waitFor(t, "the first stream's read on its way", `return window.held`, "1")
	b.run(t, `location.hash = '#/streams/`+second+`'; return null`)
	b.waitFor(t, "the second stream, live", statusJS, `"Live at version 1: caught up"`)
	b.waitFor(t, "the first stream's read given up", `return window.held`, "0")
	b.waitFor(t, "no error", `return document.getElementById('error').textContent`, `""`)
	b.waitFor(t, "the second stream's events only", versionsJS, "[1]")
}

// TestPageSaysItReadsAStreamsLatestEventsWhileTheyCome: a stream's view
// opened over a slow network said "Connected; reading what was missed…"
// while its latest events came, though it had missed nothing: it now says
// it reads them. Here that read waits until the test lets it go.
func TestPageSaysItReadsAStreamsLatestEventsWhileTheyCome(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.openStreamList(t, s, 1)
	b.run(t, `const fetch0 = window.fetch;
		let release;
		const held = new Promise((r) => { release = r; });
		window.release = () => release();
		window.fetch = (u, o) => String(u).includes('/events?direction=backward') ? held.then(() => fetch0(u, o)) : fetch0(u, o);
		location.hash = '#/streams/`+id+`';
		return null`)
	b.waitFor(t, "the status to say it reads the latest events", statusJS, `"Reading the stream's latest events…"`)
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
}

// TestPageSaysAPathItHasNoViewFor: #/ followed by a path the page has no
// view for (#/stream, a typo) showed the live log, silently, as if the link
// were right; it now says so and names the views it has. #/streams/, with
// the slash, is the list of streams, not the live log.
func TestPageSaysAPathItHasNoViewFor(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.navigate(t, s.URL+"/#/stream")
	b.waitFor(t, "#/stream to say the page has no such view", `return [['view-log', 'view-streams', 'view-stream'].map((id) => document.getElementById(id).hidden),
		document.getElementById('error').textContent.includes('no view')]`, `[[true,true,true],true]`)
	b.run(t, `location.hash = '#/streams/'; return null`)
	b.waitFor(t, "#/streams/ to list the streams", `return [document.getElementById('view-streams').hidden, document.querySelectorAll('#streams-table tbody tr').length, document.getElementById('error').textContent]`,
		`[false,1,""]`)
}

// TestPageReadsLargeEventsAFewAtATime: a stream's view read its latest 50
// events, and the live log its last 100 positions, in one read whatever
// their size: 31 MB for a stream of 1 MiB events, read and parsed before
// anything showed. A first read, and each page of earlier events, now
// stops at about 2 MiB: it shows fewer large events, and "Load earlier
// events" brings the rest. Here twenty events of 512 KiB (10 MiB).
func TestPageReadsLargeEventsAFewAtATime(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail", `return document.getElementById('stream-status').className.includes('live')`, "true")
	shown := b.run(t, `const v = `+strings.TrimPrefix(versionsJS, "return ")+`; return [v.length > 0 && v.length < 20, v[0]]`)
	if shown != "[true,20]" {
		t.Errorf("the stream's first read showed %s (some, not all, newest first), want [true,20]", shown)
	}
	if n, _ := strconv.Atoi(b.run(t, fmt.Sprintf(readBytesJS, "/streams/"+id+"/events"))); n > 3<<20 {
		t.Errorf("the stream's first read took %d bytes, want at most 3 MiB", n)
	}
	b.loadEveryEarlierEvent(t, 20)

	b.run(t, `performance.clearResourceTimings(); location.hash = '#/'; return null`)
	b.waitFor(t, "the live log, live", `return document.getElementById('log-status').className.includes('live')`, "true")
	shown = b.run(t, `const p = `+strings.TrimPrefix(positionsJS, "return ")+`; return [p.length > 0 && p.length < 20, p[0]]`)
	if shown != "[true,20]" {
		t.Errorf("the live log's first read showed %s (some, not all, newest first), want [true,20]", shown)
	}
	if n, _ := strconv.Atoi(b.run(t, fmt.Sprintf(readBytesJS, "/events?"))); n > 3<<20 {
		t.Errorf("the live log's first read took %d bytes, want at most 3 MiB", n)
	}
}

// appendTwentyHalfMiBEvents appends twenty events of 512 KiB (10 MiB) to
// stream id, two an append; streamType, where not empty, is given with the
// first append, which creates the stream.
func appendTwentyHalfMiBEvents(t *testing.T, s *server, id, streamType string) {
	t.Helper()
	half := strings.Repeat("x", 512<<10)
	for i := range 10 {
		body := appendBody{Events: []newEvent{{Type: "Stored", Data: map[string]string{"blob": half}}, {Type: "Stored", Data: map[string]string{"blob": half}}}}
		if i == 0 {
			body.StreamType = streamType
		}
		s.mustAppend(t, id, body)
	}
}

// loadEveryEarlierEvent clicks "Load earlier events", a page at a time,
// until it is hidden, and waits for the stream's view to show its n
// versions, each once, newest first.
func (b *browser) loadEveryEarlierEvent(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < 20 && b.run(t, `return document.getElementById('stream-earlier').hidden`) == "false"; i++ {
		b.run(t, `document.getElementById('stream-earlier').click(); return null`)
		b.waitFor(t, "the page of earlier events", `return document.getElementById('stream-earlier').disabled`, "false")
	}
	b.waitFor(t, "every version once, newest first", fmt.Sprintf(`const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return v.length === %d && v.every((x, i) => x === %d - i)`, n, n), "true")
}

// readBytesJS is the bytes of the page's reads so far whose path and query
// start with %q.
const readBytesJS = `return performance.getEntriesByType('resource').filter((r) => {
		const u = new URL(r.name);
		return (u.pathname + u.search).startsWith(%q);
	}).reduce((n, r) => n + r.encodedBodySize, 0)`

// TestPageGivesUpAReadTheServerLeavesUnanswered: a server that takes a
// read and never answers it (stalled, or a network that drops what
// comes back) left the page saying it was reading, for ever. A read that
// has had nothing for 10 s is given up, the page says so, and tries
// again. Here the first read of the stream's events never answers.
func TestPageGivesUpAReadTheServerLeavesUnanswered(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.openStreamList(t, s, 1)
	b.run(t, `const fetch0 = window.fetch;
		window.held = 0;
		window.fetch = (u, o) => {
			if (!String(u).startsWith('/streams/`+id+`/events') || window.held > 0) return fetch0(u, o);
			window.held++;
			return `+neverAnsweredJS+`;
		};
		location.hash = '#/streams/`+id+`';
		return null`)
	b.waitFor(t, "the read on its way", `return window.held`, "1")
	// The page gives the read up after 10 s of its clock: paced by it, not
	// one step (pageTimeout left it 5 s, which a loaded machine outlasts).
	b.waitForWithin(t, pacedWait, "the page to say the server did not answer, and that it tries again", `const m = document.getElementById('error').textContent;
		return [m.includes('did not answer'), /Trying again in \d+ s/.test(m)]`, "[true,true]")
	b.waitFor(t, "the stream's events, read again", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageChecksTheServerAtOnceWhenItsTabIsShownAgain: a browser runs a
// background tab's timers once a minute at most, so that a tab shown
// again said "caught up" for up to a minute into an outage. It asks
// /readyz at once when it is shown again. Here the tab is hidden and
// shown once a timed check is over, and /readyz then says the database is
// unavailable: the status must say so before the next timed check is due.
func TestPageChecksTheServerAtOnceWhenItsTabIsShownAgain(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	b.beforePage(t, timedChecksJS)
	b.openLiveStream(t, s, id, 1, "the live tail")
	// The check is over once its answer (no body) is handled, in
	// microtasks of the timer's task: showAgain is the task after.
	b.run(t, showAgainJS+fmt.Sprintf(readyzThenShownJS, `window.order.push(m)`, `setTimeout(showAgain, 0)`)+`
		return null`)
	b.saysNotReadyBeforeTheNextTimedCheck(t, "the page", "the status")
}

// timedChecksJS, run before the page's script, notes when the page starts
// its timed /readyz checks (its setInterval of READY_EVERY, 5 s), and
// defines window.nextTimedCheck(), the time (performance.now()) the next
// of them is due. A browser runs an interval's ticks at the times it set
// from its start, or later (Chromium keeps to them; a late tick does not
// move the next), so no timed check runs before it.
const timedChecksJS = `const setInterval0 = window.setInterval;
		window.setInterval = function (f, ms, ...a) {
			if (ms === 5000) window.timedChecksFrom = performance.now();
			return setInterval0.call(window, f, ms, ...a);
		};
		window.nextTimedCheck = () => {
			const from = window.timedChecksFrom;
			return from + 5000 * (Math.floor((performance.now() - from) / 5000) + 1);
		};`

// readyzThenShownJS, with two statements, mark(m) and show, has the
// page's /readyz answer ready once the next timed check is at least 3 s
// away (the page checking at once has the time it needs), then not ready.
// At that first answer it runs show, for the tab to be shown again, and
// sets a timer that marks 'next timed check due' 250 ms before the next.
const readyzThenShownJS = `const fetch0 = window.fetch;
		let started = false;
		const mark = (m) => { %s; };
		window.fetch = (u, o) => {
			if (String(u) !== '/readyz') return fetch0(u, o);
			if (started) return ` + readyzUnavailableJS + `;
			if (window.timedChecksFrom === undefined) {
				mark('no timed checks seen');
				return fetch0(u, o);
			}
			const now = performance.now(), due = window.nextTimedCheck();
			if (due - now < 3000) return fetch0(u, o);
			started = true;
			setTimeout(() => mark('next timed check due'), due - 250 - now);
			%s;
			return Promise.resolve(new Response(null, { status: 200 }));
		};`

// showAgainJS fakes the tab's visibility and defines showAgain(), which
// hides the tab and shows it again at once, as a user switching back to
// it does. window.order gets 'not ready' once the stream's status says
// the server is not ready, and what else the test marks, in the order
// they came.
const showAgainJS = `let vis = 'visible';
		Object.defineProperty(document, 'visibilityState', { get: () => vis, configurable: true });
		Object.defineProperty(document, 'hidden', { get: () => vis === 'hidden', configurable: true });
		window.order = [];
		new MutationObserver((_, obs) => {
			if (!document.getElementById('stream-status').textContent.includes('not ready')) return;
			window.order.push('not ready');
			obs.disconnect();
		}).observe(document.getElementById('stream-status'), { childList: true, characterData: true, subtree: true });
		const showAgain = () => {
			vis = 'hidden';
			document.dispatchEvent(new Event('visibilitychange'));
			vis = 'visible';
			document.dispatchEvent(new Event('visibilitychange'));
		};`

// readyzUnavailableJS is /readyz's answer while the database cannot be
// reached, as a fetch gives it.
const readyzUnavailableJS = `Promise.resolve(new Response(JSON.stringify({ detail: 'The database cannot be reached.' }),
				{ status: 503, headers: { 'Content-Type': 'application/problem+json' } }))`

// saysNotReadyBeforeTheNextTimedCheck waits for the stream's status to
// say the server is not ready, or for the next timed check to be due (a
// timer of the page's clock, at least 2.75 s after the tab was shown
// again), and fails the test unless the status said it first: order, not
// time, so that a stalled renderer, which runs every timer late, does not
// fail it. who names the tab, status its status line, in the messages.
func (b *browser) saysNotReadyBeforeTheNextTimedCheck(t *testing.T, who, status string) {
	t.Helper()
	b.waitForWithin(t, pacedWait, status+" to say the server is not ready, or the next timed check to be due", `return window.order.length > 0`, "true")
	if first := b.run(t, `return window.order[0]`); first != `"not ready"` {
		t.Errorf("%s: first came %s, then %s; want its status to say the server is not ready before the next timed check is due (it checks at once when shown again)", who, first, b.run(t, `return window.order.slice(1)`))
	}
	b.waitFor(t, status+" to say the server is not ready", `return document.getElementById('stream-status').textContent.includes('not ready')`, "true")
}

// TestPageKeepsBigNumbersBesideADeeplyNestedEvent: the page keeps a
// number a JavaScript number would change (9007199254740993) as stored,
// but an answer with one event nested too deep for its reviver was parsed
// without it: every event of that answer, in a stream's view or the live
// log, showed its big numbers rounded. They show as stored, beside the
// deep event.
func TestPageKeepsBigNumbersBesideADeeplyNestedEvent(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	deep := strings.Repeat("[", 9000) + strings.Repeat("]", 9000)
	s.mustAppend(t, id, `{"stream_type":"deep","events":[{"type":"Counted","data":{"n":9007199254740993,"price":1.10}},{"type":"Nested","data":`+deep+`}]}`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
	b.waitFor(t, "the beginning of the deep data", `return document.querySelector('#stream-events li[data-version="2"] pre').textContent.startsWith('[\n  [\n    [\n')`, "true")
	b.waitFor(t, "the big number as stored, in the stream's view",
		`return document.querySelector('#stream-events li[data-version="1"] pre').textContent.match(/"n": \d+|"price": [\d.]+/g)`,
		`["\"n\": 9007199254740993","\"price\": 1.10"]`)
	b.run(t, `location.hash = '#/'; return null`)
	b.waitFor(t, "the live log", positionsJS, "[2,1]")
	b.waitFor(t, "the big number as stored, in the live log", `return document.querySelector('#log-events li[data-position="1"] pre').textContent`,
		`"{\"n\":9007199254740993,\"price\":1.10}"`)
}

// TestPageTabShownAgainHasTheTabFollowingTheLogCheckAtOnce: one tab
// follows the log for all the page's tabs and asks /readyz for them; a
// tab shown again, while that one is in the background, its timers run
// once a minute, said "caught up" for up to a minute into an outage. It
// has that tab check at once. Here the second tab is shown again once a
// check of the first tab is over, and /readyz then says the database is
// unavailable: the second tab must say so before the first tab's next
// timed check is due.
func TestPageTabShownAgainHasTheTabFollowingTheLogCheckAtOnce(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	b.beforePage(t, timedChecksJS)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the first tab's live log", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
	first := b.window(t)
	b.newTab(t)
	b.openLiveStream(t, s, id, 1, "the second tab's stream, live")
	b.run(t, showAgainJS+`
		new BroadcastChannel('test').onmessage = (m) => (m.data === 'show' ? showAgain() : window.order.push(m.data));
		return null`)
	second := b.window(t)
	b.switchTo(t, first)
	// The second tab's message comes in a task of its own: the check
	// (its answer has no body) is over by then.
	b.run(t, `const test = new BroadcastChannel('test');
		`+fmt.Sprintf(readyzThenShownJS, `test.postMessage(m)`, `test.postMessage('show')`)+`
		return null`)
	b.switchTo(t, second)
	b.saysNotReadyBeforeTheNextTimedCheck(t, "the second tab", "the second tab's status")
}

// TestPageStreamTailResumedAfterLargeEventsReadsOnlyTheLatest: a stream's
// tail resumed after a pause read every event written meanwhile, in pages
// of 1,000, whatever their size, to keep the newest 500: here twenty
// events of 512 KiB, 10 MiB. It reads the latest as a view opened now
// does, about 2 MiB; when more came than that, the view starts afresh
// from them, and "Load earlier events" brings the rest, each once.
func TestPageStreamTailResumedAfterLargeEventsReadsOnlyTheLatest(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "blob", 1, "Opened")
	b.openLiveStream(t, s, id, 1, "the live tail")
	b.pauseTail(t)
	appendTwentyHalfMiBEvents(t, s, id, "")
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"21"`)
	b.run(t, `performance.clearResourceTimings(); document.getElementById('stream-pause').click(); return null`)
	b.waitFor(t, "the tail live again", statusJS, `"Live at version 21: caught up"`)
	if n, _ := strconv.Atoi(b.run(t, fmt.Sprintf(readBytesJS, "/streams/"+id+"/events"))); n > 3<<20 {
		t.Errorf("the resumed tail read %d bytes, want at most 3 MiB", n)
	}
	b.loadEveryEarlierEvent(t, 21)
}

// beforePage has script run in every document the tab opens from now on,
// before the page's own (Chrome DevTools' Page.addScriptToEvaluateOnNewDocument):
// what a test must change before the page's first reads.
func (b *browser) beforePage(t *testing.T, script string) {
	t.Helper()
	cmd := map[string]any{"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": map[string]any{"source": script}}
	if err := b.call(http.MethodPost, b.session+"/goog/cdp/execute", cmd, nil); err != nil {
		t.Fatalf("add a script before the page's: %v", err)
	}
}

// dropFirstRead has the page's first read whose path and query start with
// prefix fail as a dropped connection does, from the page's first document
// on; window[counter] counts those reads.
func (b *browser) dropFirstRead(t *testing.T, prefix, counter string) {
	t.Helper()
	b.beforePage(t, fmt.Sprintf(`const fetch0 = window.fetch;
		window[%[2]q] = 0;
		window.fetch = (u, o) => String(u).startsWith(%[1]q) && window[%[2]q]++ === 0
			? Promise.reject(new TypeError('Failed to fetch')) : fetch0(u, o);`, prefix, counter))
}

// neverAnsweredJS, in a fetch wrapper's (u, o) =>, is the promise of a
// read the server never answers: it ends only when the page gives the
// read up (aborts it).
const neverAnsweredJS = `new Promise((_, reject) => o?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))`

// TestPageCountsTheStreamsAgainAfterAFailedRead: the stream count at the
// top is read once, as the page opens; a read of it that failed for want
// of the server (a network drop, no answer within 10 s, a 5xx) left it at
// "…" until a reload. It is tried again, with backoff, as a view's reads
// are. Here the first read of the count fails as a dropped connection does.
func TestPageCountsTheStreamsAgainAfterAFailedRead(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.dropFirstRead(t, "/streams?limit=100", "countReads")
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log", positionsJS, "[1]")
	b.waitFor(t, "the stream count, read again", `return [window.countReads > 1, document.getElementById('stat-streams').textContent]`, `[true,"1"]`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageGivesUpALiveConnectionTheServerLeavesUnanswered: the page's
// live connection waited for ever for a server that takes it and never
// answers, and the page said "Connecting…" for ever. A connection that
// has had nothing from the server within 10 s, its answer or the first
// bytes of it, is given up, said, and tried again. Here the page's first
// subscription is never answered (never), or answered as an event stream
// that then sends nothing (silent).
func TestPageGivesUpALiveConnectionTheServerLeavesUnanswered(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	for name, first := range map[string]string{
		"never":  neverAnsweredJS,
		"silent": `Promise.resolve(new Response(new ReadableStream(), { headers: { 'Content-Type': 'text/event-stream' } }))`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t, chromium, driver)
			b.beforePage(t, `const fetch0 = window.fetch;
				window.opened = 0;
				window.fetch = (u, o) => /^\/events\?after=\d{1,18}$/.test(String(u)) && o?.headers?.Accept === 'text/event-stream' && window.opened++ === 0
					? `+first+`
					: fetch0(u, o);`)
			b.navigate(t, s.URL+"/#/")
			// Given up after 10 s of the page's clock: paced by it, not one step.
			b.waitForWithin(t, pacedWait, "the page to say the server did not answer, and that it tries again", `const m = document.getElementById('log-status').textContent;
				return [m.includes('did not answer'), /trying again in \d+ s/.test(m)]`, "[true,true]")
			b.waitFor(t, "the live log, live", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
			b.waitFor(t, "a second connection", `return window.opened`, "2")
		})
	}
}

// TestPageStreamListReadsAgainAfterAFailedRead: the list of streams, read
// as its view opens, showed "No streams shown" and the error for good when
// that read failed for want of the server (a network drop, no answer
// within 10 s, a 5xx), where a stream's view and the live log try again.
// It tries again too, with backoff, and says so. Here its first read fails
// as a dropped connection does.
func TestPageStreamListReadsAgainAfterAFailedRead(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.dropFirstRead(t, "/streams?limit=50", "listReads")
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the list, read again", `return [window.listReads, document.querySelectorAll('#streams-table tbody tr').length, document.getElementById('streams-caption').textContent]`,
		`[2,1,"Streams, page 1"]`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageReconnectsALiveConnectionThatFallsSilent: a connection that the
// network drops without a word (a NAT or proxy that forgets it: no FIN, no
// reset) sends nothing more, and the page said "caught up" for ever while
// events were written. The server sends a keep-alive every
// TRIBUTARY_HEARTBEAT; the page, which knows it, says when it has heard
// nothing for a few of them, opens another connection from the last
// position it has, and shows what came meanwhile, each event once. Here a
// heartbeat of 500 ms, and a proxy that stops forwarding the page's
// subscription, both ways, without closing it.
func TestPageReconnectsALiveConnectionThatFallsSilent(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_HEARTBEAT=500ms")
	p := startSilencer(t, strings.TrimPrefix(s.URL, "http://"))
	b := startBrowser(t, chromium, driver)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.navigate(t, "http://"+p.addr()+"/#/streams/"+id)
	b.waitFor(t, "the live tail", statusJS, `"Live at version 1: caught up"`)
	b.recordStreamStatus(t)

	// At least the page's one: on a busy machine, also one it has just
	// given up for silent and not yet closed.
	if n := p.silence(); n == 0 {
		t.Fatal("the proxy silenced no subscription, want the page's one")
	}
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the page to say it heard nothing from the server", `return window.said.some((s) => s.startsWith('Heard nothing from the server'))`, "true")
	b.waitFor(t, "the event written while the connection was silent", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail, caught up again", statusJS, `"Live at version 2: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live, on the new connection", versionsJS, "[3,2,1]")
	b.waitFor(t, "no event received twice", `return document.body.dataset.anomalies || "none"`, `"none"`)
}

// silencer forwards TCP connections to a server, and silence stops
// forwarding, both ways, on every connection that carries a subscription
// (the server answered it 200 with an event stream), without closing it:
// what comes is dropped, as by a NAT or proxy that forgot the connection.
// Other connections, and those opened after, are forwarded as before.
type silencer struct {
	ln    net.Listener
	mu    sync.Mutex
	pairs map[*silencedPair]struct{}
}

type silencedPair struct {
	client, server net.Conn
	subscription   atomic.Bool // the server's last answer on it is an event stream
	silent         atomic.Bool
}

func startSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	p := &silencer{ln: freeport.Listen(t), pairs: map[*silencedPair]struct{}{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		p.ln.Close()
		p.mu.Lock()
		for pair := range p.pairs {
			pair.client.Close()
			pair.server.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			pair := &silencedPair{client: c, server: up}
			p.mu.Lock()
			p.pairs[pair] = struct{}{}
			p.mu.Unlock()
			copy := func(dst, src net.Conn, fromServer bool) {
				defer func() {
					dst.Close()
					src.Close()
					p.mu.Lock()
					delete(p.pairs, pair)
					p.mu.Unlock()
				}()
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if fromServer && bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 ")) {
						pair.subscription.Store(bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) && bytes.Contains(buf[:n], []byte("text/event-stream")))
					}
					if n > 0 && !pair.silent.Load() {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			wg.Go(func() { copy(up, c, false) })
			wg.Go(func() { copy(c, up, true) })
		}
	})
	return p
}

func (p *silencer) addr() string { return p.ln.Addr().String() }

// silence silences the connections that carry a subscription, and returns
// how many.
func (p *silencer) silence() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pair := range p.pairs {
		if pair.subscription.Load() {
			pair.silent.Store(true)
			n++
		}
	}
	return n
}

// TestPageKeepsABoundedTextOfLargeEventsForShowAll: a stream's view shows
// the beginning of a large event's data, with "Show all", and kept the
// whole pretty-printed text of each such event for that button: up to 500
// events of 1 MiB, a gigabyte, in the live tail alone. It keeps the whole
// of the latest ones up to about 2 MiB, and reads the others again when
// their button is clicked. Here twenty events of 512 KiB, all shown: the
// heap the view holds, measured after a garbage collection, stays within
// 5 MiB (it held 10), and "Show all" still shows the whole, newest and
// oldest alike, and then its beginning again.
func TestPageKeepsABoundedTextOfLargeEventsForShowAll(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.openStreamList(t, s, 1)
	before := b.heapAfterGC(t)
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the live tail", `return document.getElementById('stream-status').className.includes('live')`, "true")
	b.loadEveryEarlierEvent(t, 20)
	held := b.heapAfterGC(t) - before
	t.Logf("the stream's view holds %.1f MiB of the heap", float64(held)/(1<<20))
	if held > 5<<20 {
		t.Errorf("the stream's view of twenty events of 512 KiB holds %.1f MiB of the heap, want at most 5 MiB", float64(held)/(1<<20))
	}
	for _, v := range []string{"20", "1"} {
		li := `document.querySelector('#stream-events li[data-version="` + v + `"]')`
		b.waitFor(t, "version "+v+"'s beginning", `return `+li+`.querySelector('pre').textContent.length < 3000`, "true")
		b.run(t, li+`.querySelector('button.more').click(); return null`)
		b.waitFor(t, "version "+v+"'s whole data", `const b = `+li+`.querySelector('button.more');
			return [b.getAttribute('aria-expanded'), b.textContent, `+li+`.querySelector('pre').textContent.length]`, `["true","Show less",524304]`)
		b.run(t, li+`.querySelector('button.more').click(); return null`)
		b.waitFor(t, "version "+v+"'s beginning again", `const b = `+li+`.querySelector('button.more');
			return [b.getAttribute('aria-expanded'), b.textContent.startsWith('Show all'), `+li+`.querySelector('pre').textContent.length < 3000]`, `["false",true,true]`)
	}
}

// heapAfterGC collects the page's garbage and returns the bytes of its
// JavaScript heap still in use (Chrome DevTools' Runtime.getHeapUsage).
func (b *browser) heapAfterGC(t *testing.T) int64 {
	t.Helper()
	if err := b.call(http.MethodPost, b.session+"/goog/cdp/execute", map[string]any{"cmd": "HeapProfiler.collectGarbage", "params": map[string]any{}}, nil); err != nil {
		t.Fatalf("collect the page's garbage: %v", err)
	}
	var usage struct {
		UsedSize float64 `json:"usedSize"`
	}
	if err := b.call(http.MethodPost, b.session+"/goog/cdp/execute", map[string]any{"cmd": "Runtime.getHeapUsage", "params": map[string]any{}}, &usage); err != nil {
		t.Fatalf("the page's heap usage: %v", err)
	}
	return int64(usage.UsedSize)
}

// TestPageTabCatchingUpReadsLargeEventsAFewAtATime: a tab handed a
// position past the next one it expects reads the positions it lacks from
// the log first; it read them 1,000 at a time whatever their size, a
// gigabyte in one answer for events of 1 MiB, all read and parsed before
// it showed anything. It reads them as a view's first read does, about
// 2 MiB at a time. Here the tab that follows the log passes twenty events
// of 512 KiB (10 MiB) on to no one; the other tab reads them, a few at a
// time, and shows each once, in order.
func TestPageTabCatchingUpReadsLargeEventsAFewAtATime(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "blob", 1, "Opened")
	first, second := b.logTabThenStreamTab(t, s, id)

	b.switchTo(t, first)
	b.passOnNoEvents(t)
	appendTwentyHalfMiBEvents(t, s, id, "")
	b.waitFor(t, "the first tab's log position", `return document.getElementById('stat-position').textContent`, `"21"`)
	b.passEventsOnAgain(t)
	s.mustAppend(t, id, appendBody{Events: events(1, "Closed")})

	b.switchTo(t, second)
	b.waitFor(t, "the second tab to show every version once, in order", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return v.length === 22 && v.every((x, i) => x === 22 - i)`, "true")
	reads := b.run(t, `return performance.getEntriesByType('resource').filter((r) => {
			const u = new URL(r.name);
			return /^\/events\?after=\d+&limit=\d+$/.test(u.pathname + u.search);
		}).map((r) => r.encodedBodySize)`)
	var sizes []int
	if err := json.Unmarshal([]byte(reads), &sizes); err != nil || len(sizes) == 0 {
		t.Fatalf("the second tab's reads of the log: %s (%v), want some", reads, err)
	}
	if largest := slices.Max(sizes); largest > 3<<20 {
		t.Errorf("the second tab read what it missed in reads of %v bytes, want each at most 3 MiB", sizes)
	}
}

// TestPageLearnsTheHeartbeatOfAServerRestartedWithAnother: the page takes
// a connection silent for three heartbeats for lost, by the heartbeat it
// was served with. A server restarted with a longer one
// (TRIBUTARY_HEARTBEAT from 1 s to 10 s) under an open page had it give
// up each new connection 3 s in, and say so, for as long as it stayed
// open. After a connection it had is lost, the page reads the heartbeat
// again before it opens the next: here it then says nothing of the kind
// for 6 s, and follows the stream live.
func TestPageLearnsTheHeartbeatOfAServerRestartedWithAnother(t *testing.T) {
	t.Parallel()
	s, b := startRestartablePage(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_HEARTBEAT=1s")
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.openLiveStream(t, s, id, 1, "the live tail")

	s2 := s.restartAt(t, append(slices.Clone(s.StoreEnv), "TRIBUTARY_HEARTBEAT=10s")...)
	s2.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the tail to resume with version 2", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail, caught up again", statusJS, `"Live at version 2: caught up"`)
	b.recordStreamStatus(t)
	b.pageWaits(t, 6*time.Second, "twice the three old heartbeats")
	if got := b.saidHeardNothing(t); got != "[]" {
		t.Errorf("the page, on a server restarted with a heartbeat of 10 s, said %s; want nothing of the kind", got)
	}
	s2.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
	b.waitFor(t, "no event received twice", `return document.body.dataset.anomalies || "none"`, `"none"`)
}

// TestPageLiveLogFilterWithSpacesMatchesLiveEventsAsItsHistory: a link to
// the live log whose filter has a space after a comma
// (#/?stream_type=order,%20invoice, written by hand or pasted) showed the
// invoices of its history, which the server reads with the names trimmed,
// but none that came live: the page matched " invoice". It takes the
// names as the server does.
func TestPageLiveLogFilterWithSpacesMatchesLiveEventsAsItsHistory(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceIssued")})
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	s.mustAppend(t, newID(), appendBody{StreamType: "refund", Events: events(1, "RefundIssued")})
	b.navigate(t, s.URL+"/#/?stream_type=order,%20invoice")
	b.waitFor(t, "the log's orders and invoices", positionsJS, "[2,1]")
	b.waitFor(t, "the live log, live", `return document.getElementById('log-status').textContent`, `"Live at position 3: caught up"`)
	s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceIssued")})
	s.mustAppend(t, newID(), appendBody{StreamType: "refund", Events: events(1, "RefundIssued")})
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.waitFor(t, "the live invoice and order, not the refund", positionsJS, "[6,4,2,1]")
}

// TestPageClearsTheErrorOfAFailedClickOnceItsRetrySucceeds: a click on
// "Load earlier events" or "Next page" whose read fails for want of the
// server says so; clicked again once the server answers, it showed the
// page and went on saying "The server cannot be reached", over a view
// that was live and whole. Here the first read of each click fails as a
// dropped connection does.
func TestPageClearsTheErrorOfAFailedClickOnceItsRetrySucceeds(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 60, "OrderNoted")
	for range 51 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	}
	b.beforePage(t, `const fetch0 = window.fetch;
		const failed = new Set();
		window.fetch = (u, o) => {
			const kind = /^\/streams\/[^/]+\/events\?direction=backward&from=/.test(String(u)) ? 'earlier'
				: /^\/streams\?.*after=/.test(String(u)) ? 'next' : '';
			if (!kind || !window.armed || failed.has(kind)) return fetch0(u, o);
			failed.add(kind);
			return Promise.reject(new TypeError('Failed to fetch'));
		};`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's latest 50 events", `return document.querySelectorAll('#stream-events li').length`, "50")
	b.run(t, `window.armed = true; document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the failed click said", `return document.getElementById('error').textContent.includes('cannot be reached')`, "true")
	b.waitFor(t, "the button back", `return document.getElementById('stream-earlier').disabled`, "false")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "every version", `return document.querySelectorAll('#stream-events li').length`, "60")
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")

	b.run(t, `location.hash = '#/streams'; return null`)
	b.waitFor(t, "the first page", `return document.getElementById('streams-caption').textContent`, `"Streams, page 1"`)
	b.run(t, `window.armed = true; document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the failed click said", `return document.getElementById('error').textContent.includes('cannot be reached')`, "true")
	b.run(t, `document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the second page", `return document.getElementById('streams-caption').textContent`, `"Streams, page 2"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageTabTakingOverKnowsTheHeartbeatTheHolderLearned: the tab that
// holds the connection reads the server's heartbeat again after a lost
// connection; another tab kept the one it was served with, and when it
// took the connection over (the holder closed) on a server restarted with
// a longer heartbeat, it gave its connection up 3 s in, and said so. The
// holder tells the others the heartbeat with its state.
func TestPageTabTakingOverKnowsTheHeartbeatTheHolderLearned(t *testing.T) {
	t.Parallel()
	s, b := startRestartablePage(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_HEARTBEAT=1s")
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	first, second := b.logTabThenStreamTab(t, s, id)

	s2 := s.restartAt(t, append(slices.Clone(s.StoreEnv), "TRIBUTARY_HEARTBEAT=10s")...)
	s2.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the second tab to show version 2", versionsJS, "[2,1]")
	b.waitFor(t, "the second tab, caught up again", statusJS, `"Live at version 2: caught up"`)
	b.switchTo(t, first)
	b.waitFor(t, "the first tab, caught up again", `return document.getElementById('log-status').textContent`, `"Live at position 2: caught up"`)
	if err := b.call(http.MethodDelete, b.session+"/window", nil, nil); err != nil {
		t.Fatalf("close the first tab: %v", err)
	}
	b.switchTo(t, second)
	b.recordStreamStatus(t)
	s2.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, on the second tab's own connection", versionsJS, "[3,2,1]")
	b.pageWaits(t, 6*time.Second, "twice the three old heartbeats")
	if got := b.saidHeardNothing(t); got != "[]" {
		t.Errorf("the tab that took over, on a server restarted with a heartbeat of 10 s, said %s; want nothing of the kind", got)
	}
}

// TestPageFormatsNoMoreOfADeeplyIndentedEventThanItShows: a small event
// nested deep pretty-prints to about 2·d² characters of indentation at
// depth d, and the page built the whole text (JSON.stringify with an
// indent), then all of it again as bytes, before it cut the preview:
// 200 arrays nested 1,000 deep, 400 KB stored, made 382 MiB of text, and
// froze the tab for 45 s in 3.4 GB (a black-box tester). The preview is
// now written by a walk that stops once the preview is full, and "Show
// all" states the size of the whole without building it; the whole is
// written on demand, indented where it is at most a few times an event's
// bytes and without indentation where it is not. Here a hook records the
// longest JSON text and the longest bytes the page makes while it shows
// an event of 12 KB (3.6 MB indented) and one of 24 KB (14 MB indented).
func TestPageFormatsNoMoreOfADeeplyIndentedEventThanItShows(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	b.beforePage(t, `window.longestText = 0;
		const stringify0 = JSON.stringify;
		JSON.stringify = function (...a) {
			const r = stringify0.apply(this, a);
			if (typeof r === 'string') window.longestText = Math.max(window.longestText, r.length);
			return r;
		};
		const encode0 = TextEncoder.prototype.encode;
		TextEncoder.prototype.encode = function (s) {
			window.longestText = Math.max(window.longestText, String(s).length);
			return encode0.call(this, s);
		};`)
	id := newID()
	nested := func(depth, n int) string {
		one := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		return "[" + strings.Repeat(one+",", n-1) + one + "]"
	}
	data := []string{nested(300, 20), nested(600, 20)}
	indented := make([]string, len(data))
	for i, d := range data {
		s.mustAppend(t, id, `{"stream_type":"deep","events":[{"type":"Nested","data":`+d+`}]}`)
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			t.Fatal(err)
		}
		text, err := json.MarshalIndent(v, "", "  ") // as JSON.stringify(v, null, 2)
		if err != nil {
			t.Fatal(err)
		}
		indented[i] = string(text)
	}
	quoted := func(s string) string {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(q)
	}
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
	li := func(v int) string {
		return fmt.Sprintf(`document.querySelector('#stream-events li[data-version="%d"]')`, v)
	}
	for i, text := range indented {
		// The preview is what it was: the first 40 lines, or 2,000 characters.
		end := min(len(text), 2000)
		for n, nl := 0, -1; n < 40; n++ {
			next := strings.Index(text[nl+1:], "\n")
			if next < 0 || nl+1+next >= end {
				break
			}
			if nl += 1 + next; n == 39 {
				end = nl
			}
		}
		b.waitFor(t, fmt.Sprintf("version %d's preview, its first lines", i+1),
			`const text = `+li(i+1)+`.querySelector('pre').textContent; return text === `+quoted(text[:end]+"\n…")+` || text`, "true")
	}
	if got, err := strconv.Atoi(b.run(t, `return window.longestText`)); err != nil || got >= 100_000 {
		t.Errorf("the longest JSON text or text made bytes to show the previews: %d characters (%v); want fewer than 100,000, about the events' size, not their indented text (%d and %d)",
			got, err, len(indented[0]), len(indented[1]))
	}
	b.waitFor(t, "version 1's button, with the size of the whole indented",
		`return `+li(1)+`.querySelector('button.more').textContent`, fmt.Sprintf(`"Show all (%.1f MiB)"`, float64(len(indented[0]))/(1<<20)))
	b.waitFor(t, "version 2's button, with the size of the whole without indentation",
		`return `+li(2)+`.querySelector('button.more').textContent`, fmt.Sprintf(`"Show all, without indentation (%d KiB)"`, (len(data[1])+1023)/1024))

	b.run(t, li(1)+`.querySelector('button.more').click(); return null`)
	b.waitFor(t, "version 1 whole, indented", `const text = `+li(1)+`.querySelector('pre').textContent;
		return [text.length, text.split('\n').length, text.slice(-100) === `+quoted(indented[0][len(indented[0])-100:])+`]`,
		fmt.Sprintf("[%d,%d,true]", len(indented[0]), strings.Count(indented[0], "\n")+1))
	b.run(t, li(2)+`.querySelector('button.more').click(); return null`)
	b.waitFor(t, "version 2 whole, without indentation", `const text = `+li(2)+`.querySelector('pre').textContent; return text === `+quoted(data[1])+` || text.length`, "true")
	b.waitFor(t, "no error", `return document.getElementById('error').textContent`, `""`)
}

// holdASubscription opens a subscription to the log of s, which must be
// answered 200, and holds it (and its place under
// TRIBUTARY_MAX_SUBSCRIBERS) until release is called or the test ends.
func (s *server) holdASubscription(t *testing.T) (release func()) {
	t.Helper()
	ctx, release := context.WithCancel(context.Background())
	t.Cleanup(release)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the subscription that holds the one place: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return release
}

// TestPageRefusedAtTheSubscriberCapBacksOffThenFollowsTheLog: a page whose
// subscription the server refuses, 503, as it holds TRIBUTARY_MAX_SUBSCRIBERS
// already (an EventSource stops for ever on any status but 200), tries again
// by itself; it waited Retry-After (2 s) each time, however long the cap
// lasted, so that a crowd of pages asked again every 2 s in step. Its waits
// grow (backoff, Retry-After the least of them), and once a place is free
// it follows the log without a reload.
func TestPageRefusedAtTheSubscriberCapBacksOffThenFollowsTheLog(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_SUBSCRIBERS=1")
	b := startBrowser(t, chromium, driver)
	release := s.holdASubscription(t) // the one place

	b.navigate(t, s.URL+"/#/")
	logStatus := `return document.getElementById('log-status').textContent`
	// Each wait is jittered, up to half as much again (jittered): 2 s is
	// said as 2 or 3, 4 s as 4 to 6.
	b.waitFor(t, "the page to say the server is busy, and when it tries again", `return /trying again in [23] s/.test(`+logStatus[len("return "):]+`)`, "true")
	b.waitFor(t, "the page's wait to grow while the cap lasts", `return /trying again in [4-6] s/.test(`+logStatus[len("return "):]+`)`, "true")
	release()
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the live log once a place is free, without a reload", positionsJS, "[1]")
}

// TestPageReadsRefusedWhileTheDatabaseIsDownBackOff: a page's reads
// answered 503 while the database is down waited Retry-After (2 s) each
// time, however long the outage lasted, every open page asking again in
// step. Their waits grow (backoff, Retry-After the least of them), and
// the page still loads by itself once the database is back, with no
// request refused with a 409 on the way.
func TestPageReadsRefusedWhileTheDatabaseIsDownBackOff(t *testing.T) {
	t.Parallel()
	s, b, p := startPageBehindProxy(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})

	p.Cut()
	b.navigate(t, s.URL+"/#/")
	// Two waits of the page's (2 s, then 2–4 s) and their refused reads
	// first: paced by the page, not one step.
	b.waitForWithin(t, pacedWait, "the page's wait to grow while the outage lasts", `return /Trying again in [4-6] s/.test(document.getElementById('error').textContent)`, "true")
	p.Restore(t)
	b.waitFor(t, "the live log, without a reload", positionsJS, "[2,1]")
	// The outage's 503s were failures; what the page asked once the
	// database was back was not (the fallback that learned the head
	// subscribed past it, a 409).
	if failed := b.run(t, failedRequestsJS); strings.Contains(failed, "409") {
		t.Fatalf("the page's requests answered 4xx or 5xx: %s; want no 409 once the database is back", failed)
	}
}
