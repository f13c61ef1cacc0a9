package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadThatRanOutTheDSNsReadTimeoutIsNotSentAgain: a read whose
// connection is lost under it is sent once more on a fresh one, but never
// one that ran out its time, which would wait it out again. go-sql-driver
// ends a statement that outlasts the DSN's readTimeout with the same
// ErrInvalidConn as a connection cut, naming no timeout: such a read was
// sent again, and a server that answers nothing held it twice its
// readTimeout. A read that failed no sooner than the readTimeout after it
// was sent is now not sent again: it fails 503 at its readTimeout. Here
// the read's statement is held at the proxy (its second sending would be
// answered).
func TestAReadThatRanOutTheDSNsReadTimeoutIsNotSentAgain(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReadTimeout = time.Second
	s := teststore.OpenMySQL(t, cfg.FormatDSN())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	marker := []byte("rstores-timeout!")
	id := uuid.UUID(marker)
	const typ = "rstoresReadTimeout"
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: typ, Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "t", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	for _, c := range []struct {
		name string
		held func([]byte) bool
		read func() error
	}{
		{"the stream", chunkHas(string(marker), "ORDER BY e.stream_version DESC"), func() error {
			_, err := s.Stream(ctx, id)
			return err
		}},
		{"a page of the log", chunkHas(typ, "SELECT"), func() error {
			_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			held, release := proxy.HoldAfter(c.held)
			err := c.read()
			select {
			case <-held:
			default:
				t.Fatalf("the proxy held no statement of the read (%v): the test's match is wrong", err)
			}
			release()
			if !errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("a read whose statement outlasted the DSN's readTimeout: %v; want it failed (unavailable), not sent again", err)
			}
		})
	}
}
