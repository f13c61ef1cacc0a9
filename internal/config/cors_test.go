package config

import (
	"strings"
	"testing"
)

// TestCORSOriginsAreExactOrAWholeSubdomainWildcard: go-chi/cors matches an
// origin holding a * as a prefix and a suffix around it, so https://*
// allowed every https origin, https://example.com* allowed
// https://example.com.evil.example, https://*example.com allowed
// https://evilexample.com and https://app.*.com allowed https://app.evil.com,
// all accepted at start-up. An origin is * alone, scheme://host[:port], or
// scheme://*.domain[:port] with the * a whole first label before a domain
// of two labels or more (any subdomain of it, at any depth).
func TestCORSOriginsAreExactOrAWholeSubdomainWildcard(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"*", "https://app.example", "http://localhost:3000", "https://*.example.com",
		"https://*.staging.example.com", "http://*.example.com:8080", "HTTPS://App.Example.com", "http://127.0.0.1:8080",
		"http://[::1]:3000", "https://xn--bcher-kva.example"} {
		if err := validOrigin(o, 1); err != nil {
			t.Errorf("origin %q: expected it accepted, got %v", o, err)
		}
	}
	for _, o := range []string{"https://*", "http://*", "https://*:8443", "https://*.com", "https://*example.com",
		"https://example.*", "https://app.*.example.com", "https://example.com*", "https://*.*.example.com", "https://**.example.com",
		"*.example.com", "https://*.example.com:*", "https://example.com:*", "https://example.com/", "https://example.com:",
		"https://example.com:99999", "https://user@example.com", "ftp://example.com", "null", "https://exa_mple.com",
		"https://example..com", "https://-example.com", "https://ex%61mple.com", "https://*.example.com.", "https://s3cret:token@x.example"} {
		err := validOrigin(o, 1)
		if err == nil {
			t.Errorf("origin %q: expected it refused, got no error", o)
			continue
		}
		if strings.Contains(err.Error(), `"`+o+`"`) || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "ex%61mple") {
			t.Errorf("origin %q: the error quotes it (a secret set in the wrong variable would be shown): %v", o, err)
		}
	}
}

// TestABadCORSOriginIsNamedByItsPlace: the error says which entry of the
// list is wrong without quoting it.
func TestABadCORSOriginIsNamedByItsPlace(t *testing.T) {
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_CORS_ORIGINS", "https://app.example,https://*,https://other.example")
	_, err := Load()
	if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_CORS_ORIGINS") || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("TRIBUTARY_CORS_ORIGINS with https://* second: expected an error naming the variable and entry 2, got %v", err)
	}
}

// TestACORSOriginWithItsSchemesDefaultPortMatchesBrowsers: an entry with
// the scheme's default port (https://app.example:443) was accepted but
// never matched: a browser's Origin leaves the default port out (RFC 6454
// §6.2), so the page was refused with nothing in the log. The port is
// dropped as the entry is read, as a browser writes the origin; another
// port is kept.
func TestACORSOriginWithItsSchemesDefaultPortMatchesBrowsers(t *testing.T) {
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_CORS_ORIGINS", "https://app.example:443, http://x.example:80,HTTPS://*.example.com:443,http://y.example:8080,https://z.example:80,http://[::1]:80")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example", "http://x.example", "HTTPS://*.example.com", "http://y.example:8080", "https://z.example:80", "http://[::1]"}
	if strings.Join(c.CORSOrigins, " ") != strings.Join(want, " ") {
		t.Fatalf("expected the origins %q, with the schemes' default ports dropped; got %q", want, c.CORSOrigins)
	}
}
