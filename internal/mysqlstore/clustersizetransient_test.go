package mysqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestATransientErrorOnTheClusterSizeIsWaitedOut: a Galera node
// that answers the size read with a transient error (1053 server shutdown
// in progress, as in a rolling restart; likewise 1040, 1927, 1317) is an
// outage the start waits out (ErrUnavailable, retried by cmd/api), not a
// refusal taken for "size unknown" (which, with the relaxed disk settings a
// cluster of several nodes lets pass, fails the start for good as
// ErrNotDurable). Only a refusal (1227, 1148, 1142) means the size is not
// to be known.
func TestATransientErrorOnTheClusterSizeIsWaitedOut(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startGaleraNodes(t, 1)
	nodes[0].CreateDatabase(t, "sizetransient")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", nodes[0].Port))
	proxy.AnswerInstead(func(chunk []byte) bool {
		return bytes.Contains(bytes.ToLower(chunk), []byte("wsrep_cluster_size"))
	}, mysqltest.ErrorPacket(1053, "Server shutdown in progress"))
	var logs testlog.Buffer
	s, err := Open(ctx, "root@tcp("+proxy.Addr()+")/sizetransient", Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open on a Galera node answering the size read with 1053 (server shutdown in progress): %v; want ErrUnavailable (waited out)\n%s", err, logs.String())
	}
}

// TestAFirewallRefusalOfTheClusterSizeStillOpens: MaxScale's firewall
// (dbfwfilter) and masking filter refuse a statement with error 1141
// "Access denied for user ...", not 1227, 1148 or 1142. A server error the
// store does not take for a passing outage is a refusal: the start opens,
// the size unknown. (Listing the refusals alone failed such a start for
// good.)
func TestAFirewallRefusalOfTheClusterSizeStillOpens(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startGaleraNodes(t, 1)
	nodes[0].CreateDatabase(t, "sizerefused1141")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", nodes[0].Port))
	refused := mysqltest.RefuseCounted(proxy, func(chunk []byte) bool {
		return bytes.Contains(bytes.ToLower(chunk), []byte("wsrep_cluster_size"))
	}, 1141, "Access denied for user 'root'@'127.0.0.1': Permission denied, query matched regular expression.")
	var logs testlog.Buffer
	s, err := Open(ctx, "root@tcp("+proxy.Addr()+")/sizerefused1141", Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if refused.Load() == 0 {
		t.Fatal("the start never read wsrep_cluster_size: the test did not reach its case")
	}
	if err != nil {
		t.Fatalf("unavailable=%v: Open on a Galera node behind MaxScale's firewall refusing wsrep_cluster_size (1141): %v; want it open, the size unknown\n%s", errors.Is(err, eventstore.ErrUnavailable), err, logs.String())
	}
	s.Close()
}
