package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheLiveFeedTakesNoGaleraNodeBehindTheClusterForALogGoneBack: on a
// Galera cluster, a node applies the other nodes' commits a moment after
// they are acknowledged. When the node the service uses changes (the writer
// lease moves, a proxy fails over), the live feed's tailer, which checks on
// every poll that the event at its head is still the one it handed out,
// could read a node that had not applied the last events yet: it took the
// log for gone back, logged so at ERROR and ended every subscription. Here
// a proxy moves the service from the node it wrote through to the other,
// whose applier a FLUSH TABLES WITH READ LOCK has paused since before the
// events were written. The tail's reads must wait until the node has
// applied what the cluster committed before them, and no longer than the
// provider's causal_read_timeout (3 s here): the feed then says it cannot
// read, not that the log went back, and once the node catches up it hands
// out what comes next to the same subscription.
func TestTheLiveFeedTakesNoGaleraNodeBehindTheClusterForALogGoneBack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nodes := startGaleraNodes(t, 2)
	nodes[0].CreateDatabase(t, "tail")
	proxy := newSwitchingProxy(t, fmt.Sprintf("127.0.0.1:%d", nodes[0].Port))
	s, err := Open(ctx, "root@tcp("+proxy.addr+")/tail", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	logged := &testlog.Buffer{}
	f := fanout.New(s, fanout.Options{PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
	feedCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { f.Run(feedCtx); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })
	sub := newCountingSubscription(feedCtx, f)

	// The second node stops applying the cluster's commits.
	paused, err := sql.Open("mysql", nodes[1].DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { paused.Close() })
	lock, err := paused.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		t.Fatal(err)
	}
	appendOne := func() {
		t.Helper()
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "T",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		appendOne()
	}
	sub.waitFor(t, ctx, 3)

	// The service now reads, and writes, through the second node.
	proxy.switchTo(fmt.Sprintf("127.0.0.1:%d", nodes[1].Port))
	f.Notify()
	for !strings.Contains(logged.String(), "cannot read new events") && !strings.Contains(logged.String(), "went back") {
		if ctx.Err() != nil {
			t.Fatalf("the feed said nothing while the node it reads could not apply the cluster's commits; it logged %q", logged.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	appendOne()
	if strings.Contains(logged.String(), "went back") {
		t.Fatalf("the feed took a node that had not applied the cluster's last commits for a log gone back; it logged:\n%s", logged.String())
	}
	sub.waitFor(t, ctx, 4)
	if strings.Contains(logged.String(), "went back") {
		t.Fatalf("the feed took a node that had not applied the cluster's last commits for a log gone back; it logged:\n%s", logged.String())
	}
	t.Logf("the feed logged:\n%s", logged.String())
}

// countingSubscription follows the whole log and counts the events it gets.
type countingSubscription struct {
	mu    sync.Mutex
	count int
	err   error
}

func newCountingSubscription(ctx context.Context, f *fanout.Feed) *countingSubscription {
	c := &countingSubscription{}
	sub := f.Subscribe(eventstore.SubscribeOptions{})
	go func() {
		defer sub.Close()
		for {
			err := sub.Next(ctx, func(d eventstore.Delivery) error {
				if d.Event != nil {
					c.mu.Lock()
					c.count++
					c.mu.Unlock()
				}
				return nil
			})
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			select {
			case <-sub.Ready():
			case <-ctx.Done():
			}
		}
	}()
	return c
}

// waitFor waits until the subscription has n events, and fails the test if
// it ends first.
func (c *countingSubscription) waitFor(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		c.mu.Lock()
		count, err := c.count, c.err
		c.mu.Unlock()
		switch {
		case err != nil:
			t.Fatalf("the subscription ended after %d events, before %d: %v", count, n, err)
		case count >= n:
			return
		case ctx.Err() != nil:
			t.Fatalf("the subscription got %d events, want %d", count, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// switchingProxy forwards each connection to its target, which the test
// may move to another server: a proxy that fails over.
type switchingProxy struct {
	addr   string
	mu     sync.Mutex
	target string
	conns  map[net.Conn]struct{}
}

func newSwitchingProxy(t *testing.T, target string) *switchingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchingProxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.switchTo("")
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *switchingProxy) forward(c net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.target != target { // switched meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }() //nolint:errcheck // a cut ends it
	io.Copy(c, up)                                        //nolint:errcheck // a cut ends it
	c.Close()
	up.Close()
}

// switchTo forwards new connections to target, and cuts every open one.
func (p *switchingProxy) switchTo(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// startGaleraNodes starts a Galera cluster of n private nodes, the first
// starting it and the others joining by rsync, and waits until every one
// is synced. The repl.causal_read_timeout is 3 s. Skipped where Galera
// cannot run, except under CI=true.
func startGaleraNodes(t *testing.T, n int) []*mysqltest.Server {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: "+format, args...)
		}
		t.Skipf(format, args...)
	}
	const library = "/usr/lib/galera/libgalera_smm.so" // Debian's galera-4
	if _, err := os.Stat(library); err != nil {
		skip("Galera cannot run here: %v (apt-get install galera-4)", err)
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		skip("Galera cannot transfer state without rsync: %v", err)
	}
	root, err := os.MkdirTemp("", "tributary-galera-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if os.Geteuid() == 0 {
		if _, err := exec.Command("id", "mysql").Output(); err != nil {
			skip("running as root, Galera needs a mysql user to run mariadbd as: %v", err)
		}
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ports := freeport.Ports(t, 4*n)
	var gcomm []string
	for i := range n {
		gcomm = append(gcomm, fmt.Sprintf("127.0.0.1:%d", ports[4*i+1]))
	}
	nodes := make([]*mysqltest.Server, n)
	for i := range n {
		dir := filepath.Join(root, fmt.Sprint(i+1))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := ports[4*i : 4*i+4]
		nodes[i] = mysqltest.InitServer(t, dir, true,
			"--binlog-format=ROW", "--innodb-autoinc-lock-mode=2",
			"--wsrep-on=ON", "--wsrep-provider="+library, "--wsrep-cluster-name=tributary-tail",
			"--wsrep-cluster-address=gcomm://"+strings.Join(gcomm, ","), "--wsrep-node-address=127.0.0.1",
			"--wsrep-sst-method=rsync", fmt.Sprintf("--wsrep-sst-receive-address=127.0.0.1:%d", p[3]),
			fmt.Sprintf("--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;"+
				"gcache.size=16M;repl.causal_read_timeout=PT3S", p[1], p[2]))
		nodes[i].Port = p[0]
	}
	nodes[0].Args = append(nodes[0].Args, "--wsrep-new-cluster")
	for _, node := range nodes {
		if err := node.TryStart(90 * time.Second); err != nil {
			t.Fatalf("start a Galera node: %v", err)
		}
		waitGaleraSynced(t, node)
	}
	return nodes
}

// waitGaleraSynced waits until node is synced in the Primary component.
func waitGaleraSynced(t *testing.T, node *mysqltest.Server) {
	t.Helper()
	db, err := sql.Open("mysql", node.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var state, status string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err = errors.Join(db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'").Scan(new(string), &state),
			db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'").Scan(new(string), &status))
		if err == nil && state == "4" && status == "Primary" {
			return
		}
	}
	t.Fatalf("a Galera node was not synced in the Primary component within 90 s (wsrep_local_state %q, wsrep_cluster_status %q, %v)\n%s",
		state, status, err, node.ErrorLog())
}
