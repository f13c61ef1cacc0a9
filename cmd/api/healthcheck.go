package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
)

// healthcheckTimeout bounds `api healthcheck`. /readyz gives the database 2 s
// to answer; a container's HEALTHCHECK --timeout should exceed this.
const healthcheckTimeout = 3 * time.Second

// healthcheck asks the server listening on addr (TRIBUTARY_ADDR) whether it
// is ready, for a container's HEALTHCHECK, which has no shell or curl to do
// it. It returns nil when GET /readyz answers 200 within healthcheckTimeout,
// and an error (exit status 1) otherwise.
func healthcheck(ctx context.Context, addr string, stdout io.Writer) error {
	targets, err := dialAddrs(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	// Never through HTTP_PROXY: the server is on this host.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	var res *http.Response
	var url string
	var refused error // a loopback's, the next one tried
	for i, target := range targets {
		// Through url.URL: an IPv6 zone ([fe80::1%eth0]) is %25 in a URL.
		url = (&neturl.URL{Scheme: "http", Host: target, Path: "/readyz"}).String()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		res, err = client.Do(req)
		var opErr *net.OpError
		if err != nil && i+1 < len(targets) && ctx.Err() == nil && errors.As(err, &opErr) && opErr.Op == "dial" {
			// No connection on this loopback: the next one's turn.
			refused = err
			continue
		}
		if err != nil && refused != nil {
			return fmt.Errorf("healthcheck: %w; %w", refused, err)
		}
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		break
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024)) // only for the message
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", url, res.Status, bytes.TrimSpace(body))
	}
	_, err = fmt.Fprintf(stdout, "ready: GET %s: %s\n", url, res.Status)
	return err
}

// dialAddrs turns a listen address into those to connect to, in turn
// while a connection is refused: a server listening on all interfaces
// (":8080", "0.0.0.0:8080", "[::]:8080") is reached on 127.0.0.1, or on
// [::1] where that fails (a host of IPv6 alone), and a service name
// (":http") becomes its number.
func dialAddrs(listen string) ([]string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", config.Var("Addr"), listen, err)
	}
	// A service name (:http), which the server's net.Listen takes, is no
	// port a URL may carry.
	n, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", config.Var("Addr"), listen, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s %q has no fixed port to check", config.Var("Addr"), listen)
	}
	port = strconv.Itoa(n)
	// Go listens on every address, IPv4 included, for an unspecified host
	// of either family; IPv6 loopback may be off in a container, and IPv4
	// missing on a host of IPv6 alone.
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}, nil
	}
	return []string{net.JoinHostPort(host, port)}, nil
}
