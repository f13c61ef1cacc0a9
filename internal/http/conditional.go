package http

import "net/http"

// tagless evaluates If-Match and If-None-Match for a read whose answer has
// no entity tag and whose handler does not look at them (the probes, the
// metrics, the contract), as the API's reads without a tag do: an If-Match
// naming a tag is a 412 (noTagMatches), an If-None-Match of * a 304
// (noneMatchesAny). They answered 200 to both, where every API read
// answers these. Only an answer that would otherwise be a 2xx is changed
// (RFC 9110 §13.2.1): a probe that sends neither header is answered as
// ever, and /readyz's 503, a 400 or a 401 stay what they are whatever was
// sent. what names the resource in the 412's detail.
func (s *Server) tagless(what string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, im := r.Header["If-Match"]
			_, inm := r.Header["If-None-Match"]
			if !im && !inm {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(&conditionalWriter{ResponseWriter: w, s: s, r: r, what: what}, r)
		})
	}
}

// conditionalWriter decides a tagless read's conditions (tagless) at its
// status: a 2xx whose condition fails becomes the 412 or the 304, and
// what the handler writes after it is dropped.
type conditionalWriter struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	what    string
	decided bool // the status is sent
	drop    bool // the handler's body is not the answer's
}

func (c *conditionalWriter) WriteHeader(code int) {
	if c.decided || code < 200 {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	c.decided = true
	if code > 299 {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	err := noTagMatches(c.r, c.what)
	if err == nil && !noneMatchesAny(c.r) {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	c.drop = true
	// The handler's representation headers describe a body not sent.
	h := c.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding"} {
		h.Del(k)
	}
	if err != nil { // If-Match first (RFC 9110 §13.2.2)
		c.s.writeError(c.ResponseWriter, c.r, err)
		return
	}
	c.ResponseWriter.WriteHeader(http.StatusNotModified)
}

func (c *conditionalWriter) Write(p []byte) (int, error) {
	if !c.decided {
		c.WriteHeader(http.StatusOK)
	}
	if c.drop {
		return len(p), nil
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *conditionalWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
