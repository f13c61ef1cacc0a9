package client

import (
	"net/url"
	"strings"
	"testing"
)

// TestResolveLinkTakesTheServersOriginHoweverItIsWritten: an absolute next
// link names the server's origin whatever the case of its scheme and
// host, and with its scheme's default port written or not (RFC 3986
// §6.2.2.1, §6.2.3), an IPv6 host too: it is followed, on the base URL's
// origin as given; so is one naming the upgrade to https that its page
// was redirected to, and one naming the server's IPv6 address written
// another way ([0:0:0:0:0:0:0:1] for [::1]: the same address). Another
// port, scheme or host, a host with a trailing dot included, is refused. Relative links (<?after=5>, <./events>, <events>) resolve
// against the page; a base URL with or without its trailing slash is the
// same path. A link that already holds its page's path, as a proxy that
// rewrites links writes it, is taken as it is however its escapes are
// written (%2f for %2F, RFC 3986 §6.2.2.1), not put under the base path a
// second time.
func TestResolveLinkTakesTheServersOriginHoweverItIsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base, page, link, want string // want "" is refused
	}{
		{"http://example.test", "http://example.test/events", "HTTP://EXAMPLE.TEST/events?after=1", "http://example.test/events?after=1"},
		{"http://example.test", "http://example.test/events", "http://example.test:80/events?after=1", "http://example.test/events?after=1"},
		{"http://example.test:80", "http://example.test:80/events", "http://example.test/events?after=1", "http://example.test:80/events?after=1"},
		{"https://example.test", "https://example.test/events", "https://Example.Test:443/events?after=1", "https://example.test/events?after=1"},
		{"https://example.test", "https://example.test/events", "http://example.test/events?after=1", ""},
		{"https://example.test", "https://example.test/events", "https://example.test:80/events?after=1", ""},
		{"http://example.test", "http://example.test/events", "http://example.test:443/events?after=1", ""},
		{"http://example.test", "https://example.test/events", "https://example.test/events?after=1", "http://example.test/events?after=1"},
		{"http://example.test", "https://example.test/events", "https://example.test:8443/events?after=1", ""},
		{"http://example.test", "http://example.test/events", "https://example.test/events?after=1", ""},
		{"http://example.test", "https://elsewhere.test/events", "https://elsewhere.test/events?after=1", ""},
		{"http://[::1]:8080", "http://[::1]:8080/events", "http://[::1]:8080/events?after=1", "http://[::1]:8080/events?after=1"},
		{"http://[::1]:8080", "http://[::1]:8080/events", "//[::1]:8080/events?after=1", "http://[::1]:8080/events?after=1"},
		{"http://[::1]:8080", "http://[::1]:8080/events", "http://[::2]:8080/events?after=1", ""},
		{"http://[::1]:8080", "http://[::1]:8080/events", "http://[0:0:0:0:0:0:0:1]:8080/events?after=1", "http://[::1]:8080/events?after=1"},
		{"http://example.test", "http://example.test/events", "http://example.test./events?after=1", ""},
		{"http://example.test/tributary", "http://example.test/tributary/events", "?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary/", "http://example.test/tributary/events", "./events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "/events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary/", "http://example.test/tributary/events", "/events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "http://example.test/events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "http://example.test/tributary/events?after=5", "http://example.test/tributary/events?after=5"},
		{"http://example.test/t/acme%2Fprod", "http://example.test/t/acme%2Fprod/events", "http://example.test/t/acme%2fprod/events?after=5", "http://example.test/t/acme%2fprod/events?after=5"},
		{"http://example.test/t/acme%2Fprod/", "http://example.test/t/acme%2Fprod/events", "/t/acme%2fprod/events?after=5", "http://example.test/t/acme%2fprod/events?after=5"},
		{"http://example.test/t/acme%2Fprod", "http://example.test/t/acme%2Fprod/events", "/t/acme/prod/events?after=5", "http://example.test/t/acme%2Fprod/t/acme/prod/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "../events?after=5", ""},
		{"http://example.test/tributary", "http://example.test/tributary/events", "/%2E%2E/events?after=5", ""},
		{"http://example.test/tributary", "http://example.test/tributary/events", "/%252e%252e/events?after=5", "http://example.test/tributary/%252e%252e/events?after=5"},
		{"http://example.test/tributary", "http://example.test/tributary/events", "/a%2F..%2F..%2Fb/events?after=5", ""},
	} {
		c, err := New(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		page, err := url.Parse(tc.page)
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.resolveLink(page, tc.link)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("base %s, page %s: link <%s> resolved to %s; expected it refused", tc.base, tc.page, tc.link, u)
		case tc.want == "" && !strings.Contains(err.Error(), "another origin") && !strings.Contains(err.Error(), "base URL's path"):
			t.Errorf("base %s, page %s: link <%s> refused with %v; expected an error naming another origin or the base URL's path", tc.base, tc.page, tc.link, err)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("base %s, page %s: link <%s> resolved to %v, %v; expected %s", tc.base, tc.page, tc.link, u, err, tc.want)
		}
	}
}
