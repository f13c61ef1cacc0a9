package mysqlstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAGaleraNodeThatRefusesItsClusterSizeStillOpens: Open reads a Galera
// node's wsrep_cluster_size to know whether an acknowledged commit has a
// copy on other nodes, which lets relaxed disk settings pass. A node that
// refused SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size' (a proxy's query
// rule, a privilege a managed server withholds) failed every start, though
// the size only ever lets more settings through. The start goes on with
// the size unknown, counting on no other node's copy (relaxed settings are
// refused as on one node), and says so once at WARN. A proxy in front of a
// one-node cluster answers the read with an error.
func TestAGaleraNodeThatRefusesItsClusterSizeStillOpens(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startGaleraNodes(t, 1)
	nodes[0].CreateDatabase(t, "sizerefused")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", nodes[0].Port))
	refused := mysqltest.RefuseCounted(proxy, func(chunk []byte) bool {
		return bytes.Contains(bytes.ToLower(chunk), []byte("wsrep_cluster_size"))
	}, 1227, "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation")
	var logs testlog.Buffer
	s, err := Open(ctx, "root@tcp("+proxy.Addr()+")/sizerefused", Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if refused.Load() == 0 {
		t.Fatal("the start never read wsrep_cluster_size: the test did not reach its case")
	}
	if err != nil {
		t.Fatalf("Open on a Galera node that refuses wsrep_cluster_size: %v; want it open, the size unknown\n%s", err, logs.String())
	}
	t.Cleanup(func() { s.Close() })
	if !s.onGalera {
		t.Errorf("Open on a Galera node that refuses wsrep_cluster_size: not taken for a Galera node")
	}
	var warned int
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "wsrep_cluster_size") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("Open on a Galera node that refuses wsrep_cluster_size logged %d WARN lines naming it; want 1\n%s", warned, logs.String())
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	id := uuid.New()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("an append on a Galera node that refuses wsrep_cluster_size: %v", err)
	}
}
