package http

import (
	"net/http"
	"net/netip"
	"strings"
)

// allowedOrigin is the CORS middleware's test of a request's Origin for
// entries, the configured origins (TRIBUTARY_CORS_ORIGINS, checked at
// start-up), none of them "*": the Origin, in any case, equals an exact
// entry, or its host is a subdomain, at any depth, of a wildcard entry's
// (scheme://*.domain[:port]) with the same scheme and port. It is read as
// a browser serializes an origin first (serializedOrigin): the middleware's
// own test matched a wildcard entry as a bare prefix and suffix, so that
// https://evil.com/.staging.example.com, whose host is evil.com, or one
// with a user, a fragment or an empty label, was allowed.
func allowedOrigin(entries []string) func(*http.Request, string) bool {
	exact := map[string]bool{}
	type wildcard struct{ prefix, suffix string } // "https://", ".example.com[:port]"
	var wildcards []wildcard
	for _, e := range entries {
		e = strings.ToLower(e)
		if prefix, suffix, ok := strings.Cut(e, "*"); ok {
			wildcards = append(wildcards, wildcard{prefix, suffix})
		} else {
			exact[e] = true
		}
	}
	return func(_ *http.Request, origin string) bool {
		origin = strings.ToLower(origin)
		if !serializedOrigin(origin) {
			return false
		}
		if exact[origin] {
			return true
		}
		for _, w := range wildcards {
			// The origin's host is made of whole labels: what the *
			// stands for ends at one, before the domain's dot.
			if len(origin) > len(w.prefix)+len(w.suffix) && strings.HasPrefix(origin, w.prefix) && strings.HasSuffix(origin, w.suffix) {
				return true
			}
		}
		return false
	}
}

// serializedOrigin reports whether o, in lower case, is an origin as a
// browser serializes it (RFC 6454 §6.2): http:// or https://, a host, and
// a port if not the scheme's default; no user, path, query or fragment.
// The host is an IPv4 address, an IPv6 one in brackets, or a name of
// non-empty labels of letters, digits, '-' and '_', each at most 63
// bytes.
func serializedOrigin(o string) bool {
	scheme, hostPort, ok := strings.Cut(o, "://")
	if !ok || scheme != "http" && scheme != "https" || len(hostPort) > 261 { // 253 for the name, 8 for :65535
		return false
	}
	host, port := hostPort, ""
	if i := strings.LastIndexByte(hostPort, ':'); i >= 0 && !strings.HasSuffix(hostPort, "]") {
		host, port = hostPort[:i], hostPort[i+1:]
		if n, refused := parseNumber(port); refused != 0 || n < 1 || n > 65535 {
			return false
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		ip, err := netip.ParseAddr(inner)
		return ok && err == nil && ip.Is6() && ip.Zone() == ""
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
