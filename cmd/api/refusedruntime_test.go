package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAUserRefusedWhileServingDoesNotLogTheDSNsPassword: start-up keeps
// the DSN's password out of a refusal that quotes it (a proxy's, an
// authentication plugin's), but a refusal met while serving (the password
// rotated on the server under a running process, its pool reconnecting)
// reached the log unredacted: the HTTP layer's 5xx lines, /readyz's WARN
// and the live feed's lines quote the store's error. A private server
// (its grants on) whose user's password is changed, behind a proxy whose
// refusal quotes the password the client sent: no line and no answer
// carries it, and the refusal is still told.
func TestAUserRefusedWhileServingDoesNotLogTheDSNsPassword(t *testing.T) {
	const password = "Before-Rotation-7c1e9a40"
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	server.CreateDatabase(t, "rotated")
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '"+password+"'", "GRANT ALL ON rotated.* TO 'app'@'127.0.0.1'")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", server.Port))
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", password, "tcp", proxy.Addr(), "rotated"
	t.Setenv("TRIBUTARY_MYSQL_DSN", cfg.FormatDSN())
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs, addr, stop := serveForRedaction(t)
	base := "http://" + addr
	stream := "/streams/" + uuid.NewString()
	var answers bytes.Buffer // every answer's body, looked at for the password
	send := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers.Write(b)
		return resp.StatusCode
	}
	if code := send("POST", stream+"/events", `{"stream_type":"t","events":[{"type":"a","data":{}}]}`); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("an append before the rotation: %d %s; want it written", code, answers.String())
	}

	// The password rotated on the server, not yet in the DSN; the proxy
	// refuses each new session quoting what it was sent, and the
	// sessions open are cut: the pool reconnects.
	server.Exec(t, "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'After-Rotation-0b3d5e71'")
	refusal := mysqltest.ErrorPacket(1045, "Access denied for user 'app'@'127.0.0.1' (using password '"+password+"')")
	refusal[3] = 2 // the answer to the handshake response (sequence 1)
	var refused atomic.Int64
	proxy.AnswerInstead(func(chunk []byte) bool {
		is := len(chunk) > 36 && chunk[3] == 1 && bytes.Contains(chunk, []byte("app\x00"))
		if is {
			refused.Add(1)
		}
		return is
	}, refusal)
	proxy.Hollow()
	proxy.Fill()
	killSessions(t, server, "app")

	// Reads, appends and /readyz until the refusal is in the log, as the
	// server tells it (the proxy's words, user and host).
	for deadline := time.Now().Add(time.Minute); refused.Load() == 0 || !strings.Contains(logs.String(), "Access denied for user"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal reached the log within a minute (%d refused); the test did not reach its case. The log says:\n%s", refused.Load(), logs.String())
		}
		send("GET", "/readyz", "")
		send("GET", stream, "")
		send("POST", stream+"/events", `{"stream_type":"t","events":[{"type":"a","data":{}}]}`)
	}
	stop()
	if out := logs.String(); strings.Contains(out, password) {
		t.Errorf("a refusal met while serving put the DSN's password in the log; want it redacted. The log says:\n%s", out)
	}
	if strings.Contains(answers.String(), password) {
		t.Errorf("an answer carries the DSN's password: %s", answers.String())
	}
}

// killSessions kills every session of user on server, as root, so that
// the pools holding them open new ones.
func killSessions(t *testing.T, server *mysqltest.Server, user string) {
	t.Helper()
	db, err := sql.Open("mysql", server.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "SELECT id FROM information_schema.processlist WHERE user = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, id := range ids {
		db.ExecContext(t.Context(), fmt.Sprintf("KILL %d", id)) //nolint:errcheck // one already gone is no matter
	}
}
