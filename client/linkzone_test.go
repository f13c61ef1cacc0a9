package client

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestANextLinkToTheServersAddressOnAnotherInterfaceIsRefused: a
// link-local IPv6 address names a machine on one link, its zone
// (%25eth0) the interface, and interface names are case-sensitive
// (Linux's eth0 and ETH0 are two); but hosts were first compared as text
// in any case, so a next link, or a redirect, to [fe80::1%25ETH0] for a
// server at [fe80::1%25eth0] was taken for the server's origin, and the
// token went to whatever answers fe80::1 on the other link. An address's
// zone is now compared as written; the address itself in any form and
// case, as before.
func TestANextLinkToTheServersAddressOnAnotherInterfaceIsRefused(t *testing.T) {
	t.Parallel()
	const base = "http://[fe80::1%25eth0]"
	for _, link := range []string{
		"http://[FE80::1%25eth0]/events?after=1",
		"http://[fe80:0:0:0:0:0:0:1%25eth0]:80/events?after=1",
	} {
		c, asked := linkServer(t, base, false, link)
		got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
		if fmt.Sprint(got) != "[1 2]" || err != nil || asked.Load() != 1 {
			t.Errorf("base %s, Link <%s>: read %v, then %v, %d requests for the second page with the token; expected [1 2], the link followed once, with the token",
				base, link, got, err, asked.Load())
		}
	}
	for _, link := range []string{
		"http://[fe80::1%25ETH0]/events?after=1",
		"http://[FE80::1%25Eth0]/events?after=1",
		"http://[fe80::1%25eth1]/events?after=1",
		"http://[fe80::1]/events?after=1",
	} {
		c, asked := linkServer(t, base, false, link)
		got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
		if fmt.Sprint(got) != "[]" || err == nil || !strings.Contains(err.Error(), "another origin") || asked.Load() != 0 {
			t.Errorf("base %s, Link <%s>: read %v, then %v, %d requests for the second page; expected no event, the link refused as naming another origin, nothing sent",
				base, link, got, err, asked.Load())
		}
	}
	if !sameHost("fe80::1%eth0", "FE80::1%eth0") || sameHost("fe80::1%eth0", "fe80::1%ETH0") {
		t.Errorf("sameHost: expected %s the same as %s, another than %s", "fe80::1%eth0", "FE80::1%eth0", "fe80::1%ETH0")
	}
}
