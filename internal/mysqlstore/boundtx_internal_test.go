package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestACommitWhoseAnswerGoesSilentEndsAtItsBound: the driver's Commit reads
// COMMIT's answer with no context watched (database/sql gives it none), so
// on a connection black-holed as COMMIT went, tx.Commit sat in its socket
// read for ever, past the transaction's context (settling, dropping the
// snapshots), as rows' Close did before boundRows.
func TestACommitWhoseAnswerGoesSilentEndsAtItsBound(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang's, not a time asserted
	defer cancel()
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
	defer tcancel()
	tx, err := db.BeginTx(tctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(tctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	silent := proxy.StallAnswerAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("COMMIT")) }, 0)
	ended := make(chan error, 1)
	go func() { ended <- tx.Commit() }()
	<-silent
	select {
	case err := <-ended:
		t.Logf("the commit whose answer went silent ended: %v", err)
	case <-ctx.Done():
		t.Fatalf("a commit whose answer went silent was still in its socket read long past its transaction's bound")
	}
}
