package tests

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// startReplicaPair starts two private mariadbd, a primary with its binary
// log on (sync_binlog=1) and an async replica of it (GTID, two parallel
// applier threads in MariaDB's default conservative mode), and creates the
// database tributary on the primary. It returns once the replica has it.
func startReplicaPair(t *testing.T) (primary, replica *mysqltest.Server) {
	t.Helper()
	primary = mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	replica = mysqltest.NewServer(t, "--server-id=2", "--slave-parallel-threads=2")
	replica.Exec(t,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", primary.Port),
		"START SLAVE")
	primary.CreateDatabase(t, "tributary")
	db, err := sql.Open("mysql", replica.DSN(""))
	if err != nil {
		t.Fatalf("open %s: %v", replica.DSN(""), err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var name string
		if db.QueryRowContext(t.Context(), "SHOW DATABASES LIKE 'tributary'").Scan(&name) == nil {
			return primary, replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected the replica to have the database tributary within 30 s of its creation on the primary\n%s", replica.ErrorLog())
		}
	}
}

// replicaReadiness is /readyz's answer with a read replica.
type replicaReadiness struct {
	Status  string `json:"status"`
	Replica struct {
		LagPositions int64 `json:"lag_positions"`
		LagSeconds   int64 `json:"lag_seconds"`
		Replicating  bool  `json:"replicating"`
	} `json:"replica"`
}

func readiness(t *testing.T, s *server) replicaReadiness {
	t.Helper()
	r := s.get(t, "/readyz")
	requireStatus(t, r, http.StatusOK)
	var rd replicaReadiness
	if err := json.Unmarshal(r.Body, &rd); err != nil {
		t.Fatalf("GET /readyz: expected JSON with the replica's lag, got %s: %v", r.Body, err)
	}
	return rd
}

var replicaLagMetric = regexp.MustCompile(`(?m)^tributary_replica_lag_positions (\S+)$`)

// TestReadReplicaServesReadsAndTheFeedInOrderAndMinPositionReadsYourWrites
// runs the service on a primary and an async replica (both private mariadbd
// on loopback): appends go to the primary, reads and the live feed come from
// the replica. A subscriber gets every acknowledged event once, in order; a
// read with Tributary-Min-Position of the last append's position sees it.
// With the replica's SQL thread stopped, such a read is a 503 with
// Retry-After, /readyz and the metric report the lag, and once the thread
// runs again everything catches up.
func TestReadReplicaServesReadsAndTheFeedInOrderAndMinPositionReadsYourWrites(t *testing.T) {
	t.Parallel()
	started := time.Now()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"),
		"TRIBUTARY_HEARTBEAT=500ms")
	if line := s.logLine(t, "read replica"); line["replica"] != fmt.Sprintf("127.0.0.1:%d", replica.Port) {
		t.Errorf("expected the start-up line \"read replica\" to name the replica 127.0.0.1:%d, got %v", replica.Port, line)
	}
	tail := startFaultTail(t, "on the replica", s.URL+"/events")

	streams := []string{newID(), newID(), newID()}
	var acked []event // every acknowledged event, in the order appended
	appendSome := func(n int) int64 {
		t.Helper()
		for i := range n {
			stream := streams[i%len(streams)]
			res := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")})
			for _, e := range res.Events {
				acked = append(acked, event{ID: e.ID, Position: e.Position, StreamID: stream, Version: e.Version})
			}
		}
		return acked[len(acked)-1].Position
	}
	readOwnWrite := func(last int64, stream string) {
		t.Helper()
		r := s.get(t, "/events?after="+strconv.FormatInt(last-1, 10), "Tributary-Min-Position", strconv.FormatInt(last, 10))
		requireStatus(t, r, http.StatusOK)
		var page logPage
		r.decode(t, &page)
		if len(page.Events) != 1 || page.Events[0].Position != last {
			t.Fatalf("GET /events after %d with Tributary-Min-Position %d: expected the event at %d, got %d events %v", last-1, last, last, len(page.Events), page.Events)
		}
		r = s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(last, 10))
		requireStatus(t, r, http.StatusOK)
	}

	last := appendSome(30)
	readOwnWrite(last, streams[29%len(streams)])
	if !tail.waitFor(last, 20*time.Second) {
		t.Fatalf("expected the subscriber on the replica to reach position %d within 20 s; %s", last, tail.summary())
	}
	if r := s.get(t, "/events", "Tributary-Min-Position", "soon"); r.Status != http.StatusBadRequest {
		t.Errorf("GET /events with Tributary-Min-Position: soon: expected 400, got %d %s", r.Status, r.Body)
	}

	// The replica lags: its SQL thread stops, appends go on.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	behind := appendSome(10)
	askedAt := time.Now()
	r := s.get(t, "/events?after="+strconv.FormatInt(last, 10), "Tributary-Min-Position", strconv.FormatInt(behind, 10))
	waited := time.Since(askedAt)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("GET /events with Tributary-Min-Position %d while the replica's SQL thread is stopped at %d: expected 503 with Retry-After, got %d (Retry-After %q) %s",
			behind, last, r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if waited > 8*time.Second {
		t.Errorf("expected the bounded wait (5 s) to end in under 8 s, it took %s", waited)
	}
	rd := readiness(t, s)
	if rd.Replica.LagPositions != behind-last || rd.Replica.Replicating {
		t.Errorf("GET /readyz while the replica's SQL thread is stopped: expected lag_positions %d and replicating false, got %+v", behind-last, rd)
	}
	if m := replicaLagMetric.FindSubmatch(s.get(t, "/metrics").Body); m == nil || string(m[1]) != strconv.FormatInt(behind-last, 10) {
		t.Errorf("GET /metrics: expected tributary_replica_lag_positions %d, got %q", behind-last, m)
	}
	if tail.lastPosition() != last {
		t.Errorf("expected the subscriber to stay at %d while the replica lags, it is at %d", last, tail.lastPosition())
	}

	// It catches up.
	replica.Exec(t, "START SLAVE SQL_THREAD")
	readOwnWrite(behind, streams[9%len(streams)])
	final := appendSome(10)
	readOwnWrite(final, streams[9%len(streams)])
	if !tail.waitFor(final, 20*time.Second) {
		t.Fatalf("expected the subscriber on the replica to reach position %d within 20 s of the replica's restart; %s", final, tail.summary())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for rd = readiness(t, s); rd.Replica.LagPositions != 0 || !rd.Replica.Replicating || rd.Replica.LagSeconds < 0; rd = readiness(t, s) {
		select {
		case <-ctx.Done():
			t.Fatalf("expected /readyz to report the replica caught up (lag 0, replicating) within 20 s, got %+v", rd)
		case <-time.After(50 * time.Millisecond):
		}
	}

	// The log, as the replica serves it and as the subscriber got it: every
	// acknowledged event, once, in order.
	log := s.readLog(t, "/events?limit=1000")
	if len(log) != len(acked) {
		t.Fatalf("expected the log read from the replica to hold the %d acknowledged events, got %d", len(acked), len(log))
	}
	for i, e := range log {
		if e.ID != acked[i].ID || e.Position != acked[i].Position || e.Version != acked[i].Version {
			t.Fatalf("expected event %s at position %d (version %d) as the %dth event read, got %s at %d (version %d)",
				acked[i].ID, acked[i].Position, acked[i].Version, i+1, e.ID, e.Position, e.Version)
		}
	}
	tail.checkGotLog(t, log)
	t.Logf("primary and async replica: %d events acknowledged, all read from the replica and delivered once in order; "+
		"a read past the stopped replica answered 503 after %s; whole test %s", len(acked), waited.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
}

// TestReplicaKilledAndRestartedUnderTwoInstancesLosesNothingAndFeedsResume
// runs two service instances on one primary and its async GTID replica (both
// private mariadbd on loopback): appends go to the primary, reads and the
// live feed come from the replica. Eight writers append batches with expected
// versions, two per stream, one through each instance, so that they
// conflict; a subscriber follows the log on each instance. Mid run the
// replica lags (its SQL thread stopped while the writers go on), and then
// its mariadbd is killed with SIGKILL and started again on the same data
// directory: replication resumes from its GTID position. Appends go on
// through the primary all along; a read from the replica meanwhile is a 503,
// and the subscribers reconnect with Last-Event-ID. Afterwards: every
// acknowledged append is in the log exactly once where its answer said; no
// two events share a position; every stream's versions are 1..N; no
// expected version succeeded twice; the primary and the replica hold the
// same log; every subscriber saw every event once, in order; no request was
// answered 500.
func TestReplicaKilledAndRestartedUnderTwoInstancesLosesNothingAndFeedsResume(t *testing.T) {
	started := time.Now()
	primary, replica := startReplicaPair(t)
	env := []string{"TRIBUTARY_MYSQL_DSN=" + primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN=" + replica.DSN("tributary"),
		"TRIBUTARY_HEARTBEAT=500ms"}
	servers := []*server{launchServer(t, env...), launchServer(t, env...)}
	for _, s := range servers {
		s.waitListening(t)
	}
	tails, w := startTwoInstanceLoad(t, servers)

	// The replica lags: its SQL thread stops while the writers go on.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	atLag := w.acked.Load()
	time.Sleep(time.Second)
	if !w.waitAcks(atLag+50, 30*time.Second) {
		t.Fatalf("expected appends to go on while the replica lags; %d acknowledged in all, %d when it stopped applying", w.acked.Load(), atLag)
	}
	lag := readiness(t, servers[0])
	if lag.Replica.LagPositions <= 0 || lag.Replica.Replicating {
		t.Errorf("GET /readyz while the replica's SQL thread is stopped under appends: expected a lag and replicating false, got %+v", lag)
	}

	// Then it crashes, lagging, and the writers go on.
	atKill := w.acked.Load()
	w.markKill()
	killedAt := time.Now()
	replica.Kill()
	for i, s := range servers {
		askedAt := time.Now()
		r, err := s.request(http.MethodGet, "/events", nil)
		faultCheckUnavailable(t, fmt.Sprintf("instance %d: GET /events from the killed replica", i+1), r, err, time.Since(askedAt))
	}
	// The first subscriber loses its connection too, and keeps
	// reconnecting with Last-Event-ID; the second keeps its connection.
	connsAtKill := tails[0].connections()
	tails[0].dropConnection()
	if !w.waitAcks(atKill+100, 30*time.Second) {
		t.Fatalf("expected appends to go on through the primary while the replica is down; %d acknowledged in all, %d at the kill",
			w.acked.Load(), atKill)
	}
	// Down for a while: readiness from each instance, noted, not required
	// (the service may say it is not ready without its replica).
	time.Sleep(time.Until(killedAt.Add(3 * time.Second)))
	var readyDown []int
	for _, s := range servers {
		r, err := s.request(http.MethodGet, "/readyz", nil)
		if err != nil {
			t.Fatalf("GET /readyz while the replica is down: %v", err)
		}
		if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz while the replica is down: expected 200 or 503, got %d %s", r.Status, r.Body)
		}
		readyDown = append(readyDown, r.Status)
	}
	duringOutage := w.acked.Load() - atKill

	// It comes back on the same data directory and resumes replicating by
	// itself from its GTID position.
	replica.Start(t)
	back := time.Now()
	down := back.Sub(killedAt)
	target := w.lastAckedPosition()
	for _, tail := range tails {
		if !tail.waitFor(target, 20*time.Second) {
			t.Fatalf("expected subscriber %s to reach position %d (the last acknowledged when the replica came back) within 20 s; %s",
				tail.name, target, tail.summary())
		}
	}
	caughtUp := time.Since(back)
	if n := tails[0].connections() - connsAtKill; n < 2 {
		t.Errorf("expected subscriber %s to reconnect while the replica was down, it opened %d connections since the kill", tails[0].name, n)
	}
	tails[0].mu.Lock()
	for status, n := range tails[0].statuses {
		if status != http.StatusServiceUnavailable {
			t.Errorf("subscriber %s: expected only 503 when reconnecting while the replica was down, got %d %d times", tails[0].name, status, n)
		}
	}
	tails[0].mu.Unlock()
	atBack := w.acked.Load()
	if !w.waitAcks(atBack+100, 30*time.Second) {
		t.Fatalf("expected appends to go on after the replica came back; %d acknowledged in all, %d when it came back", w.acked.Load(), atBack)
	}
	w.stop()

	// Reads from the replica once it has every acknowledged append.
	last := w.lastAckedPosition()
	for i, s := range servers {
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := s.request(http.MethodGet, "/events?after="+strconv.FormatInt(last-1, 10), nil, "Tributary-Min-Position", strconv.FormatInt(last, 10))
			if err == nil && r.Status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d: expected the replica to reach position %d within 20 s of the writers stopping (last answer %v, %v)", i+1, last, r, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res := checkWritersRun(t, []logHolder{{name: "the primary", size: logSizeOn(primary)}, {name: "the replica", size: logSizeOn(replica)}},
		servers, tails, w)
	t.Logf("primary and async replica, 2 instances: %s; %d appends acknowledged while the replica was down; "+
		"the replica lagged by %d positions when killed, was down %s (/readyz answered %v meanwhile), "+
		"and the subscribers caught up %s after it answered again; whole test %s",
		res, duringOutage, lag.Replica.LagPositions, down.Round(time.Millisecond), readyDown, caughtUp.Round(time.Millisecond),
		time.Since(started).Round(time.Millisecond))
}

// lastAckedPosition is the highest position acknowledged so far.
func (w *galeraWriters) lastAckedPosition() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastPos
}

// logSizeOn is how many events the database tributary of m holds, and the
// last position, as a logHolder's size.
func logSizeOn(m *mysqltest.Server) func(t *testing.T) (count, last int64) {
	return func(t *testing.T) (count, last int64) {
		t.Helper()
		db, err := sql.Open("mysql", m.DSN("tributary"))
		if err != nil {
			t.Fatalf("open %s: %v", m.DSN("tributary"), err)
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events").Scan(&count, &last); err != nil {
			t.Fatalf("port %d: count events: %v", m.Port, err)
		}
		return count, last
	}
}

// TestAnEventSourceResumingBehindALaggingReplicaStartsOnceTheReplicaHasItsPoint
// runs the service on a primary and an async replica (private mariadbd). A
// subscription resuming with a Last-Event-ID the primary answered but the
// replica has not applied yet (an EventSource reconnecting to an instance
// whose replica lags) starts once the replica has it, for the log and for a
// stream: it was a 409 starting-point-ahead at once, on which an
// EventSource stops for ever. A point past the primary's head is still a 409
// at once; one the stopped replica does not reach in time is a 503 with
// Retry-After. With the replica's IO thread stopped, /readyz says it does
// not replicate. A replica made ahead of its primary is not ready, and its
// lag metric goes below 0.
func TestAnEventSourceResumingBehindALaggingReplicaStartsOnceTheReplicaHasItsPoint(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	stream := newID()
	res := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")})
	last := res.Events[len(res.Events)-1].Position
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(last, 10)), http.StatusOK)

	// The replica stops applying; the primary answers two more events.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	res = s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Paid")})
	pos, version := res.Events[1].Position, res.Events[1].Version
	resumes := []struct{ path, lastID string }{{"/events", strconv.FormatInt(pos, 10)}, {"/streams/" + stream + "/events", strconv.FormatInt(version, 10)}}
	restarted := make(chan struct{})
	go func() { // not Exec: a goroutine may not end the test
		defer close(restarted)
		time.Sleep(time.Second)
		db, err := sql.Open("mysql", replica.DSN(""))
		if err == nil {
			_, err = db.ExecContext(t.Context(), "START SLAVE SQL_THREAD")
			db.Close()
		}
		if err != nil {
			t.Errorf("START SLAVE SQL_THREAD: %v", err)
		}
	}()
	for _, c := range resumes {
		if resp, body, took := resumeTimed(t, s, c.path, c.lastID); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with Last-Event-ID %s, the replica applying it about a second later: %d after %s %s; want 200 once the replica has it",
				c.path, c.lastID, resp.StatusCode, took.Round(time.Millisecond), body)
		}
	}
	<-restarted

	// Points the primary never had: 409 at once.
	for _, c := range []struct{ path, lastID string }{{"/events", strconv.FormatInt(pos+100, 10)}, {"/streams/" + stream + "/events", strconv.FormatInt(version+100, 10)}} {
		resp, body, took := resumeTimed(t, s, c.path, c.lastID)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "starting-point-ahead") || took > 3*time.Second {
			t.Errorf("GET %s with Last-Event-ID %s, past the primary's head: %d after %s %s; want 409 starting-point-ahead at once",
				c.path, c.lastID, resp.StatusCode, took.Round(time.Millisecond), body)
		}
	}

	// A replica that stays stopped: 503 with Retry-After once the wait is over.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	res = s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Shipped")})
	for _, c := range []struct{ path, lastID string }{{"/events", strconv.FormatInt(res.Events[0].Position, 10)}, {"/streams/" + stream + "/events", strconv.FormatInt(res.Events[0].Version, 10)}} {
		resp, body, took := resumeTimed(t, s, c.path, c.lastID)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || took < 4*time.Second || took > 10*time.Second {
			t.Errorf("GET %s with Last-Event-ID %s, the replica stopped short of it: %d after %s (Retry-After %q) %s; want 503 with Retry-After after the 5 s wait",
				c.path, c.lastID, resp.StatusCode, took.Round(time.Millisecond), resp.Header.Get("Retry-After"), body)
		}
	}
	replica.Exec(t, "START SLAVE SQL_THREAD")
	// Caught up before the replica stops for good: the lag below counts
	// from the primary's head.
	for deadline := time.Now().Add(20 * time.Second); readiness(t, s).Replica.LagPositions != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up within 20 s of its SQL thread's restart: %+v", readiness(t, s))
		}
	}
	replica.Exec(t, "STOP SLAVE IO_THREAD")
	if rd := readiness(t, s); rd.Replica.Replicating {
		t.Errorf("GET /readyz with the replica's IO thread stopped: %+v; want replicating false", rd)
	}

	// The replica made ahead of its primary: it is not a replica of it.
	replica.Exec(t, "STOP SLAVE", "UPDATE tributary.log_head SET position = position + 3 WHERE id = 1")
	if r := s.get(t, "/readyz"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the replica's log head 3 past the primary's: %d %s; want 503", r.Status, r.Body)
	}
	if m := replicaLagMetric.FindSubmatch(s.get(t, "/metrics").Body); m == nil || string(m[1]) != "-3" {
		t.Errorf("GET /metrics with the replica's log head 3 past the primary's: tributary_replica_lag_positions %q; want -3", m)
	}
}

// TestAResumeBehindAReplicaWhoseApplierStoppedOnAnErrorIsAnsweredAtOnce
// runs the service on a primary and an async replica (private mariadbd)
// whose applier then stops on an error: a row written on the replica that
// the primary writes too (a duplicate key). Such a replica applies nothing
// more until someone repairs it, yet a subscription resuming at a point the
// primary answered after that, and a Tributary-Min-Position read of it,
// waited the full 5 s for it each time before their 503. They are 503 with
// Retry-After at once now, saying the replica's applier stopped on an
// error, without the server's message (it quotes the rows). /readyz stays
// 200 as docs/scaling.md promises, replicating false. Once the replica is
// repaired and its applier started again, the resume is served.
func TestAResumeBehindAReplicaWhoseApplierStoppedOnAnErrorIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	stream := newID()
	res := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")})
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(res.Events[1].Position, 10)), http.StatusOK)

	// A row the replica has of its own, and then the primary writes it.
	primary.Exec(t, "CREATE DATABASE other_app", "CREATE TABLE other_app.t (id INT PRIMARY KEY, note VARCHAR(64))")
	waitForReplica(t, replica, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'other_app'", "the table other_app.t")
	replica.Exec(t, "INSERT INTO other_app.t VALUES (1, 'secret-on-the-replica')")
	primary.Exec(t, "INSERT INTO other_app.t VALUES (1, 'secret-on-the-primary')")
	waitForReplicaStatusNumber(t, replica, "Last_SQL_Errno", "the replica's applier to stop on the duplicate key")
	res = s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Paid")})
	pos, version := res.Events[1].Position, res.Events[1].Version

	problemOf := func(what string, status int, header http.Header, body []byte, took time.Duration) {
		t.Helper()
		var p problem
		_ = json.Unmarshal(body, &p)
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" || took > 2*time.Second {
			t.Errorf("%s, the replica's applier stopped on an error: %d after %s (Retry-After %q) %s; want 503 with Retry-After at once, not after the 5 s wait",
				what, status, took.Round(time.Millisecond), header.Get("Retry-After"), body)
		}
		if !strings.Contains(p.Detail, "stopped") || !strings.Contains(p.Detail, "error") {
			t.Errorf("%s, the replica's applier stopped on an error: detail %q; want it to say the replica's applier stopped on an error", what, p.Detail)
		}
		for _, secret := range []string{"secret", "Duplicate", "other_app", "INSERT", "1062"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s: the answer quotes %q from the replica's error: %s; want no SQL and no data in it", what, secret, body)
			}
		}
	}
	resumes := []struct{ path, lastID string }{{"/events", strconv.FormatInt(pos, 10)}, {"/streams/" + stream + "/events", strconv.FormatInt(version, 10)}}
	for _, c := range resumes {
		resp, body, took := resumeTimed(t, s, c.path, c.lastID)
		problemOf(fmt.Sprintf("GET %s with Last-Event-ID %s", c.path, c.lastID), resp.StatusCode, resp.Header, body, took)
	}
	start := time.Now()
	r := s.get(t, "/events?after="+strconv.FormatInt(pos-1, 10), "Tributary-Min-Position", strconv.FormatInt(pos, 10))
	problemOf(fmt.Sprintf("GET /events with Tributary-Min-Position %d", pos), r.Status, r.Header, r.Body, time.Since(start))
	// A position or a stream's version the primary never had is still
	// 409, as without a replica. (The stream's was a 503: its version was
	// read on the replica only.)
	for _, c := range []struct {
		path, lastID string
		status       int
	}{{"/events", strconv.FormatInt(pos+100, 10), http.StatusConflict}, {"/streams/" + stream + "/events", strconv.FormatInt(version+100, 10), http.StatusConflict}} {
		resp, body, took := resumeTimed(t, s, c.path, c.lastID)
		if resp.StatusCode != c.status || !strings.Contains(string(body), "starting-point-ahead") || took > 2*time.Second {
			t.Errorf("GET %s with Last-Event-ID %s, past the primary's, the replica's applier stopped on an error: %d after %v %s; want 409 starting-point-ahead at once",
				c.path, c.lastID, resp.StatusCode, took.Round(time.Millisecond), body)
		}
	}
	// /readyz: both servers answer, so 200, as docs/scaling.md says; the
	// replica does not replicate.
	if rd := readiness(t, s); rd.Replica.Replicating || rd.Replica.LagPositions != 2 || rd.Replica.LagSeconds != -1 {
		t.Errorf("GET /readyz, the replica's applier stopped on an error 2 positions behind: %+v; want 200 with lag_positions 2, lag_seconds -1, replicating false", rd)
	}

	// Repaired and started again: the resume is served.
	replica.Exec(t, "DELETE FROM other_app.t WHERE id = 1", "START SLAVE SQL_THREAD")
	for _, c := range resumes {
		if resp, body, _ := resumeTimed(t, s, c.path, c.lastID); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with Last-Event-ID %s, the replica repaired and applying again: %d %s; want 200", c.path, c.lastID, resp.StatusCode, body)
		}
	}

	// Failing while a read waits: the applier stopped cleanly with a
	// conflicting row on its way and an append after it; a read waiting for
	// the append is waited for, and once the applier, started again, stops
	// on the row, the read ends at its next poll with the applier-failed
	// 503. It waited out its 5 s and then said the replica may be lagging.
	replica.Exec(t, "STOP SLAVE SQL_THREAD", "INSERT INTO other_app.t VALUES (2, 'secret-on-the-replica')")
	primary.Exec(t, "INSERT INTO other_app.t VALUES (2, 'secret-on-the-primary')")
	pos = s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Shipped")}).Events[0].Position
	const failsAfter = time.Second
	started := make(chan struct{})
	go func() {
		defer close(started)
		time.Sleep(failsAfter)
		db, err := sql.Open("mysql", replica.DSN(""))
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), "START SLAVE SQL_THREAD"); err != nil {
			t.Errorf("START SLAVE SQL_THREAD: %v", err)
		}
	}()
	start = time.Now()
	r = s.get(t, "/events?after="+strconv.FormatInt(pos-1, 10), "Tributary-Min-Position", strconv.FormatInt(pos, 10))
	took := time.Since(start)
	<-started
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "applier has stopped on an error") ||
		took < failsAfter || took > failsAfter+2*time.Second {
		t.Errorf("GET /events with Tributary-Min-Position %d, the replica's applier started again %v in and stopping on a duplicate key: %d after %v (Retry-After %q) %s; "+
			"want 503 with Retry-After saying the applier has stopped on an error, within a poll of the failure (not after the 5 s wait)",
			pos, failsAfter, r.Status, took.Round(time.Millisecond), r.Header.Get("Retry-After"), r.Body)
	}
}

// TestAReadBehindAReplicaWhoseIOThreadStoppedOnAnErrorIsAnsweredAtOnce runs
// the service on a primary and an async replica (private mariadbd) whose
// IO thread then stops on an error: the primary purged the binary log the
// replica had yet to read (1236). Such a replica receives nothing more until
// someone repairs it (a new copy of the primary), yet it was not seen as
// failed: a Tributary-Min-Position read of an append it lacks, and a
// resumption there, waited their 5 s each, then said the replica may be
// lagging. They are 503 with Retry-After at once now, the detail naming the
// IO thread's error number and not its message; /readyz stays 200,
// replicating false.
func TestAReadBehindAReplicaWhoseIOThreadStoppedOnAnErrorIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	stream := newID()
	res := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Placed")})
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(res.Events[0].Position, 10)), http.StatusOK)

	replica.Exec(t, "STOP SLAVE")
	res = s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Paid")})
	pos, version := res.Events[0].Position, res.Events[0].Version
	primary.PurgeBinaryLogs(t)
	replica.Exec(t, "START SLAVE")
	waitForReplicaStatusNumber(t, replica, "Last_IO_Errno", "the replica's IO thread to stop on the purged binary log")

	check := func(what string, status int, header http.Header, body []byte, took time.Duration) {
		t.Helper()
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" || took > 2*time.Second ||
			!strings.Contains(string(body), "IO thread") || !strings.Contains(string(body), "error 1236") {
			t.Errorf("%s, the replica's IO thread stopped on error 1236: %d after %s (Retry-After %q) %s; want 503 with Retry-After at once, naming the IO thread's error 1236",
				what, status, took.Round(time.Millisecond), header.Get("Retry-After"), body)
		}
		if strings.Contains(string(body), "purged") || strings.Contains(string(body), "GTID") {
			t.Errorf("%s: the answer quotes the replica's error message: %s; want its number only", what, body)
		}
	}
	start := time.Now()
	r := s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(pos, 10))
	check(fmt.Sprintf("GET /streams/%s with Tributary-Min-Position %d", stream, pos), r.Status, r.Header, r.Body, time.Since(start))
	for _, c := range []struct{ path, lastID string }{{"/events", strconv.FormatInt(pos, 10)}, {"/streams/" + stream + "/events", strconv.FormatInt(version, 10)}} {
		resp, body, took := resumeTimed(t, s, c.path, c.lastID)
		check(fmt.Sprintf("GET %s with Last-Event-ID %s", c.path, c.lastID), resp.StatusCode, resp.Header, body, took)
	}
	if rd := readiness(t, s); rd.Replica.Replicating || rd.Replica.LagPositions != 1 {
		t.Errorf("GET /readyz, the replica's IO thread stopped on an error 1 position behind: %+v; want 200 with lag_positions 1, replicating false", rd)
	}
}

// resumeTimed subscribes at path with Last-Event-ID lastID, as an
// EventSource resuming does, and returns the answer, its body where it is
// no subscription (one does not end), and how long the answer took.
func resumeTimed(t *testing.T, s *server, path, lastID string) (*http.Response, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := sendSubscribe(t.Context(), s.URL+path, "Last-Event-ID", lastID)
	if err != nil {
		t.Fatalf("GET %s with Last-Event-ID %s: %v", path, lastID, err)
	}
	took := time.Since(start)
	var body []byte
	if resp.StatusCode != http.StatusOK { // a subscription's body does not end
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	resp.Body.Close()
	return resp, body, took
}

// waitForReplicaStatusNumber waits up to 20 s for the replica's column of
// SHOW SLAVE STATUS (an error number) to be other than 0; what says what
// that means, in the failure message.
func waitForReplicaStatusNumber(t *testing.T, replica *mysqltest.Server, column, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); replicaStatusNumber(t, replica, column) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("expected %s within 20 s\n%s", what, replica.ErrorLog())
		}
	}
}

// replicaStatusNumber is a number column of the replica's SHOW SLAVE
// STATUS (Last_SQL_Errno, Last_IO_Errno).
func replicaStatusNumber(t *testing.T, replica *mysqltest.Server, column string) int {
	t.Helper()
	db, err := sql.Open("mysql", replica.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "SHOW SLAVE STATUS")
	if err != nil {
		t.Fatalf("SHOW SLAVE STATUS: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("SHOW SLAVE STATUS on the replica is empty: %v", rows.Err())
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		if c == column {
			n, _ := strconv.Atoi(vals[i].String)
			return n
		}
	}
	t.Fatalf("SHOW SLAVE STATUS has no %s: %v", column, cols)
	return 0
}

// waitForReplica waits until query, a count, is above 0 on the replica.
func waitForReplica(t *testing.T, replica *mysqltest.Server, query, what string) {
	t.Helper()
	db, err := sql.Open("mysql", replica.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if db.QueryRowContext(t.Context(), query).Scan(&n) == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected the replica to have %s within 20 s\n%s", what, replica.ErrorLog())
		}
	}
}

// TestAReplicaThatSkippedAnAppendIsRefusedAndItsSubscribersMissNothing runs
// the service on a primary and an async GTID replica (private mariadbd) whose
// operator "fixes" a stopped applier by skipping a transaction
// (sql_slave_skip_counter): the replica lacks an append the primary has, and
// has the ones after it. The live feed took the hole for rows removed by hand
// once it outlasted its patience, skipped it, and handed its subscribers the
// next append: the skipped event was lost to them for good, a read with
// Tributary-Min-Position of it answered 200 without it, and /readyz said
// 200, replicating. Now the feed asks the primary, which has the event: the
// replica is taken as serving another log, every read of it is 503, the
// subscribers get nothing past the hole, and /readyz is 503.
func TestAReplicaThatSkippedAnAppendIsRefusedAndItsSubscribersMissNothing(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"),
		"TRIBUTARY_HEARTBEAT=500ms")
	stream := newID()
	res := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")})
	head := res.Events[1].Position
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(head, 10)), http.StatusOK)
	tail := startFaultTail(t, "on the replica", s.URL+"/events")
	if !tail.waitFor(head, 20*time.Second) {
		t.Fatalf("expected the subscriber to reach position %d within 20 s; %s", head, tail.summary())
	}

	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	lost := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Paid")}).Events[0].Position
	replica.Exec(t, "SET GLOBAL sql_slave_skip_counter=1", "START SLAVE SQL_THREAD")
	next := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Shipped")}).Events[0].Position
	waitForReplica(t, replica, fmt.Sprintf("SELECT COUNT(*) FROM tributary.events WHERE position = %d", next), fmt.Sprintf("the event at %d", next))

	// The feed meets the hole, waits out its patience (5 s) and asks the
	// primary: /readyz turns 503.
	var ready *response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ready = s.get(t, "/readyz"); ready.Status == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	if ready.Status != http.StatusServiceUnavailable || !strings.Contains(string(ready.Body), "another log") {
		t.Errorf("GET /readyz, the replica lacking the append at %d that the primary has: %d %s; want 503 saying it serves another log than the primary's",
			lost, ready.Status, ready.Body)
	}
	r := s.get(t, "/events?after="+strconv.FormatInt(lost-2, 10), "Tributary-Min-Position", strconv.FormatInt(lost, 10))
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "read replica serves another log") {
		t.Errorf("GET /events after %d with Tributary-Min-Position %d, the replica lacking it: %d (Retry-After %q) %s; want 503 saying the read replica serves another log",
			lost-2, lost, r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := s.get(t, "/streams/"+stream); r.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /streams/%s, the replica lacking the append at %d: %d %s; want 503", stream, lost, r.Status, r.Body)
	}
	if got := tail.lastPosition(); got != head {
		t.Errorf("expected the subscriber to stay at %d, below the event at %d the replica lacks, got to %d; %s", head, lost, got, tail.summary())
	}
	for _, l := range s.logLines() {
		if msg, _ := l["msg"].(string); strings.Contains(msg, "skipping them") {
			t.Errorf("expected the feed never to skip the replica's hole, it logged %v", l)
		}
	}

	// Mended: the lost event put back on the replica (as a rebuild from the
	// primary would): it is served again, and the subscriber gets the lost
	// event and the next, in order.
	copyEvent(t, primary, replica, lost)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ready = s.get(t, "/readyz"); ready.Status == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if ready.Status != http.StatusOK {
		t.Fatalf("GET /readyz, the replica holding the lost event again: %d %s; want 200", ready.Status, ready.Body)
	}
	if !tail.waitFor(next, 30*time.Second) {
		t.Fatalf("expected the subscriber to reach %d once the replica holds %d again; %s", next, lost, tail.summary())
	}
	tail.checkGotLog(t, s.readLog(t, "/events?limit=1000"))
}

// copyEvent copies the primary's row of events at position to the
// replica, by hand, as a rebuild of the replica from the primary would.
func copyEvent(t *testing.T, primary, replica *mysqltest.Server, position int64) {
	t.Helper()
	from, err := sql.Open("mysql", primary.DSN("tributary"))
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	rows, err := from.QueryContext(t.Context(), "SELECT * FROM events WHERE position = ?", position)
	if err != nil {
		t.Fatalf("read the primary's event at %d: %v", position, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("the primary has no event at %d: %v", position, rows.Err())
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	to, err := sql.Open("mysql", replica.DSN("tributary"))
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	q := "INSERT INTO events (`" + strings.Join(cols, "`, `") + "`) VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
	if _, err := to.ExecContext(t.Context(), q, vals...); err != nil {
		t.Fatalf("put the event at %d back on the replica: %v", position, err)
	}
}

// TestAMinPositionReadOfAnEventTheReplicaLostIsRefused: with no subscriber
// (so no live feed's poll meets the hole), a read with
// Tributary-Min-Position of an append the replica skipped
// (sql_slave_skip_counter) waited only for the replica's log head, which
// the next append moved past it, and was answered 200 without it. The read
// looks for the event itself now: the primary has it, so the replica is
// refused as serving another log, this read and the next.
func TestAMinPositionReadOfAnEventTheReplicaLostIsRefused(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	stream := newID()
	head := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(2, "Placed")}).Events[1].Position
	requireStatus(t, s.get(t, "/streams/"+stream, "Tributary-Min-Position", strconv.FormatInt(head, 10)), http.StatusOK)

	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	lost := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Paid")}).Events[0].Position
	replica.Exec(t, "SET GLOBAL sql_slave_skip_counter=1", "START SLAVE SQL_THREAD")
	next := s.mustAppend(t, stream, appendBody{StreamType: "order", Events: events(1, "Shipped")}).Events[0].Position
	waitForReplica(t, replica, fmt.Sprintf("SELECT COUNT(*) FROM tributary.events WHERE position = %d", next), fmt.Sprintf("the event at %d", next))

	for _, path := range []string{"/events?after=" + strconv.FormatInt(lost-2, 10), "/streams/" + stream + "/events"} {
		r := s.get(t, path, "Tributary-Min-Position", strconv.FormatInt(lost, 10))
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "read replica serves another log") {
			t.Errorf("GET %s with Tributary-Min-Position %d, the replica lacking the event there that the primary has: %d %s; want 503 saying the read replica serves another log",
				path, lost, r.Status, r.Body)
		}
	}
}
