package http

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// clientSubscriptions counts the subscriptions each client holds, so that
// one client cannot take every place TRIBUTARY_MAX_SUBSCRIBERS allows.
type clientSubscriptions struct {
	limit int
	mu    sync.Mutex
	held  map[string]int // by clientKey; a client holding none has no entry
}

// take counts one more subscription for client, unless it holds limit.
func (c *clientSubscriptions) take(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[client] >= c.limit {
		return false
	}
	if c.held == nil {
		c.held = map[string]int{}
	}
	c.held[client]++
	return true
}

// give counts one subscription of client's fewer.
func (c *clientSubscriptions) give(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[client]--; c.held[client] <= 0 {
		delete(c.held, client)
	}
}

// full reports whether client holds limit subscriptions.
func (c *clientSubscriptions) full(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[client] >= c.limit
}

// takeClientPlace admits a subscription only while its client holds fewer
// than MaxSubscribersPerClient, and answers it 503 otherwise, as the
// instance's own limit does (atCapacity). A subscription calls it once its
// request has passed every check of its own, so that a bad one is a 400
// whatever the load, and before it reads the database. The place is the
// client's from then until the request's access log line is written, which
// a subscription that took its connection over writes when it ends
// (detachAccessEntry). A HEAD of one is answered as its GET would be, and
// takes no place. The token, if any, names the client.
func (s *Server) takeClientPlace(r *http.Request) error {
	e, ok := r.Context().Value(accessKey{}).(*accessEntry)
	if !ok {
		return nil
	}
	client := s.clientKey(r, *e.principal)
	if r.Method == http.MethodHead {
		if s.clients.full(client) {
			return s.clientHoldsItsShare(clientWho(client))
		}
		return nil
	}
	if !s.clients.take(client) {
		return s.clientHoldsItsShare(clientWho(client))
	}
	e.release = func() { s.clients.give(client) }
	return nil
}

// clientHoldsItsShare is the 503 of a subscription whose client, who,
// holds MaxSubscribersPerClient.
func (s *Server) clientHoldsItsShare(who string) error {
	held := fmt.Sprintf("%d subscriptions", s.clients.limit)
	if s.clients.limit == 1 {
		held = "a subscription"
	}
	return &detailError{kind: errClientSubscribers,
		detail: fmt.Sprintf("%s already holds %s, the most one client may hold on this server (TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT); "+
			"close one, or try again shortly", who, held)}
}

// tooManySubscribers is the 503 of a subscription past MaxSubscribers.
func (s *Server) tooManySubscribers() error {
	return &detailError{kind: errTooManySubscribers,
		detail: fmt.Sprintf("this server already serves %s, the most it takes; try again shortly or another instance", count(s.opts.MaxSubscribers, "subscription"))}
}

// clientKey names the client of r: its token's holder where access control
// is on, else its address, an IPv6 one by its /64 (a host is commonly given
// a whole /64 and may use any address in it). clientWho says which, for a
// client to read.
func (s *Server) clientKey(r *http.Request, principal string) string {
	if s.auth != nil {
		return "token " + principal
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap().WithZone("")
		if ip.Is6() {
			host = netip.PrefixFrom(ip, 64).Masked().String()
		} else {
			host = ip.String()
		}
	}
	return "address " + host
}

// clientName names the client of r for the log: its address (an IPv6
// one's /64), as a refused connection's line does, or, where access
// control is on, "token " and its token's holder.
func (s *Server) clientName(r *http.Request) string {
	principal := ""
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
		principal = *e.principal
	}
	key := s.clientKey(r, principal)
	if address, ok := strings.CutPrefix(key, "address "); ok {
		return address
	}
	return key
}

// clientWho names the client of key (clientKey) for the client to read.
func clientWho(key string) string {
	if principal, ok := strings.CutPrefix(key, "token "); ok {
		return fmt.Sprintf("token %q", principal)
	}
	return "this client's address"
}
