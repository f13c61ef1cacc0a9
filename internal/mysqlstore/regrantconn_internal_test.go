package mysqlstore

import (
	"context"
	"database/sql/driver"
	"strings"
	"testing"
)

// bareConn is a driver connection with none of the methods database/sql
// uses beyond driver.Conn's.
type bareConn struct{ closed *bool }

func (bareConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (c bareConn) Close() error                      { *c.closed = true; return nil }
func (bareConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

type bareConnector struct{ closed *bool }

func (c bareConnector) Connect(context.Context) (driver.Conn, error) { return bareConn(c), nil }
func (bareConnector) Driver() driver.Driver                          { return nil }

// TestASessionTheRegrantGuardCannotWrapIsRefusedNotPassedOn: the regrant
// guard (regrant.go) asserted its own copy of cluster.go's list of what
// the driver's connections do, and handed a connection that lacked one of
// them on unwrapped ("not the driver's: as it is"): had the two lists
// drifted, the guard would have switched itself off without a word. It
// asserts the one list (mysqlConn) now, and a connection without it is an
// error naming its type, closed.
func TestASessionTheRegrantGuardCannotWrapIsRefusedNotPassedOn(t *testing.T) {
	var p privilegeEpoch
	closed := false
	conn, err := p.sessionsOf(bareConnector{&closed}).Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bareConn") {
		t.Fatalf("a session without the methods the store needs: %T, %v; want an error naming its type", conn, err)
	}
	if !closed {
		t.Error("the session refused was not closed")
	}
}
