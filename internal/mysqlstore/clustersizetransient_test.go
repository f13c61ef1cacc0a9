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
