package http_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// failingStore fails every call with err, as a store whose database is
// out of reach does.
type failingStore struct {
	eventstore.Store // nil: every method the server calls is below
	err              error
}

func (s failingStore) Append(context.Context, eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, s.err
}
func (s failingStore) Stream(context.Context, uuid.UUID) (eventstore.Stream, error) {
	return eventstore.Stream{}, s.err
}
func (s failingStore) ReadStream(context.Context, uuid.UUID, eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	return eventstore.StreamPage{}, s.err
}
func (s failingStore) Event(context.Context, uuid.UUID, int64) (eventstore.Event, error) {
	return eventstore.Event{}, s.err
}
func (s failingStore) ReadAll(context.Context, eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	return eventstore.LogPage{}, s.err
}
func (s failingStore) ListStreams(context.Context, eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	return eventstore.StreamList{}, s.err
}
func (s failingStore) Head(context.Context) (int64, error) { return 0, s.err }
func (s failingStore) Ping(context.Context) error          { return s.err }

// What a 503's detail must say, and must not, for each kind of request.
var (
	// An append that may have been written: retry with the same ids.
	saysMayBeWritten = []string{"may have been written", "same event ids", "read the stream"}
	// An append that was not written: try again.
	saysNotWritten = []string{"not written"}
)

// expectUnavailable checks that r is a 503 `unavailable` with Retry-After
// whose detail holds every phrase of says and none of saysNot.
func expectUnavailable(t *testing.T, what string, r response, says, saysNot []string) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d Retry-After=%q, want 503 with Retry-After\n%s", what, r.status, r.header.Get("Retry-After"), r.body)
	}
	p := r.json(t)
	if p["type"] != esthttp.ProblemBase+"unavailable" {
		t.Errorf("%s: type %v, want %sunavailable", what, p["type"], esthttp.ProblemBase)
	}
	detail, _ := p["detail"].(string)
	for _, s := range says {
		if !strings.Contains(detail, s) {
			t.Errorf("%s: detail %q; want it to say %q", what, detail, s)
		}
	}
	for _, s := range saysNot {
		if strings.Contains(strings.ToLower(detail), s) {
			t.Errorf("%s: detail %q; it must not say %q", what, detail, s)
		}
	}
}

// TestEvery503SaysWhatBecameOfTheRequest: every 503 had one detail, which
// told every client that "an append that failed this way was most likely
// not written": an append whose COMMIT went out and whose outcome could not
// be found out (it had been written, each time a tester tried) was told so,
// and a client without event ids that believed it wrote its events twice;
// /readyz and the reads talked about appends. Each case now says what is
// true of it.
func TestEvery503SaysWhatBecameOfTheRequest(t *testing.T) {
	t.Parallel()
	unreachable := fmt.Errorf("read: %w: dial tcp 127.0.0.1:3306: connection refused", eventstore.ErrUnavailable)
	lockBusy := fmt.Errorf("append to x: %w: the write lock was not free within the request's time (%w)", eventstore.ErrUnavailable, context.DeadlineExceeded)
	unknown := fmt.Errorf("append to x: %w: %w: the round trip with COMMIT was lost", eventstore.ErrUnavailable, eventstore.ErrOutcomeUnknown)
	queued := fmt.Errorf("append to x: %w", context.DeadlineExceeded) // its time ran out before the writer took it
	id := uuid.NewString()
	appendBody := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	reads := []struct{ name, path string }{
		{"readiness", "/readyz"},
		{"the log", "/events"},
		{"the streams", "/streams"},
		{"a stream", "/streams/" + id},
		{"a stream's events", "/streams/" + id + "/events"},
		{"an event", "/streams/" + id + "/events/1"},
	}
	// A read knows nothing of appends, nor was anything written.
	readSaysNot := []string{"append", "event ids", "written"}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unreachable", unreachable},
		{"out of time", context.DeadlineExceeded},
	} {
		s := newServer(t, nil, failingStore{err: tc.err})
		for _, read := range reads {
			expectUnavailable(t, read.name+", the database "+tc.name, s.do("GET", read.path, ""), nil, readSaysNot)
		}
	}
	for _, tc := range []struct {
		name          string
		err           error
		says, saysNot []string
	}{
		{"the database unreachable", unreachable, saysNotWritten, []string{"may have been"}},
		{"the write lock not free in time", lockBusy, saysNotWritten, []string{"may have been", "cannot be reached"}},
		{"its time out before the writer took it", queued, saysNotWritten, []string{"may have been"}},
		{"its COMMIT's answer lost and its outcome unknown", unknown, saysMayBeWritten, []string{"not written", "most likely"}},
	} {
		s := newServer(t, nil, failingStore{err: tc.err})
		expectUnavailable(t, "an append, "+tc.name, s.do("POST", "/streams/"+id+"/events", appendBody), tc.says, tc.saysNot)
	}
}

// TestAnAppendWhoseOutcomeIsUnknownSaysItMayHaveBeenWritten: the hostile
// tester's case, on the real store: an append's round trip with COMMIT is
// held past the request's deadline, and another session holds the log's
// lock, so the server cannot find out whether it committed (settle.go). Its
// 503 must say that it may have been written, not that it most likely was
// not. Only the MySQL store can lose a COMMIT's answer.
func TestAnAppendWhoseOutcomeIsUnknownSaysItMayHaveBeenWritten(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	store := teststore.OpenMySQL(t, dsn)
	s := timedServer(t, store, 500*time.Millisecond)
	id := uuid.NewString()
	expectStatus(t, "first append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`), 201)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target() // around the proxy, which holds the append
	holdLock(t, "mysql", cfg.FormatDSN())
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	defer release()
	r := s.do("POST", "/streams/"+id+"/events", `{"events":[{"id":"`+uuid.NewString()+`","type":"X","data":2}]}`)
	select {
	case <-held:
	default:
		t.Fatalf("the proxy never held the append's round trip with COMMIT (%d %s): the test did not reach its case", r.status, r.body)
	}
	expectUnavailable(t, "an append whose COMMIT's answer was lost and could not be settled", r, saysMayBeWritten, []string{"not written", "most likely"})
}

// TestAnAppendRefusedForTheWriteLockSaysItWasNotWritten: another session
// holds the write lock past the request's time. The 503 must say that the
// append was not written (nor will be), and not that the database cannot
// be reached: it answered.
func TestAnAppendRefusedForTheWriteLockSaysItWasNotWritten(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, lock := lockableStore(t, k)
		s := timedServer(t, store, 500*time.Millisecond)
		id := uuid.NewString()
		expectStatus(t, "first append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`), 201)
		release := lock()
		r := s.do("POST", "/streams/"+id+"/events", `{"events":[{"type":"X","data":2}]}`)
		release()
		expectUnavailable(t, "an append that met the write lock held past its time", r, saysNotWritten, []string{"may have been", "cannot be reached"})
		if st, err := store.Stream(context.Background(), uuid.MustParse(id)); err != nil || st.Version != 1 {
			t.Fatalf("after the lock was released the stream is %+v (%v); want version 1: the append answered not written was written", st, err)
		}
	})
}

// TestARetryRefusedForTheWriteLockIsNotToldItsBatchIsNotStored: a retry
// of a batch already stored (the same event ids) that meets the write lock
// held past its time wrote nothing, as any append then; but its 503 said
// "it was not written, and will not be", of events that are stored (the
// API tester). It says that this request wrote nothing, and that what an
// earlier request stored with the same ids stays stored. Both stores.
func TestARetryRefusedForTheWriteLockIsNotToldItsBatchIsNotStored(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, lock := lockableStore(t, k)
		s := timedServer(t, store, 500*time.Millisecond)
		id := uuid.NewString()
		body := `{"stream_type":"a","events":[{"id":"` + uuid.NewString() + `","type":"X","data":1}]}`
		expectStatus(t, "first append", s.do("POST", "/streams/"+id+"/events", body), 201)
		release := lock()
		r := s.do("POST", "/streams/"+id+"/events", body)
		release()
		if r.status != 503 {
			t.Fatalf("a retry that met the write lock held past its time: status %d %s; want 503", r.status, r.body)
		}
		if !strings.Contains(string(r.body), "stays stored") {
			t.Errorf("a retry of a stored batch refused for the write lock: %s; want it to say that what an earlier request stored with the same ids stays stored", r.body)
		}
	})
}

// lockableStore opens a store of kind k and returns it with a func that
// takes its write lock from a session of the test's own (holdLock).
func lockableStore(t *testing.T, k teststore.Kind) (eventstore.Store, func() (release func())) {
	t.Helper()
	if k.Name == teststore.MySQL.Name {
		dsn := mysqltest.NewDatabase(t)
		return teststore.OpenMySQL(t, dsn), func() func() { return holdLock(t, "mysql", dsn) }
	}
	sq := teststore.OpenSQLite(t, t.TempDir())
	return sq, func() func() { return holdLock(t, "sqlite", sq.Path()) }
}

// timedServer serves store with the given request timeout.
func timedServer(t *testing.T, store eventstore.Store, timeout time.Duration) *testServer {
	t.Helper()
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{RequestTimeout: timeout}))
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}
}

// holdLock takes the write lock every append needs from a session of the
// test's own, as a stalled writer of another process would: log_head's row
// on MySQL, SQLite's write lock on the embedded store. It returns a func
// that releases it (also called at cleanup).
func holdLock(t *testing.T, driver, dsn string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin, lock := "BEGIN", "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"
	if driver == "sqlite" {
		dsn += "?_pragma=busy_timeout(5000)"
		begin, lock = "BEGIN IMMEDIATE", "UPDATE log_head SET position = position WHERE id = 1"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, lock); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // only held
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// TestADamagedDatabasesAnswerTellsNoOneToRetry: a 503 for a damaged
// embedded database file said in its detail that retrying will not help
// until an operator restores the file, but still carried Retry-After: 2,
// which clients and proxies that retry on it obey, in a loop, for ever. It
// carries none now; every other 503 still does (API.md asks Retry-After of
// a database out of reach). From a black-box tester.
func TestADamagedDatabasesAnswerTellsNoOneToRetry(t *testing.T) {
	t.Parallel()
	damaged := fmt.Errorf("read: %w: %w: /data/tributary.db (database disk image is malformed): restore it from a backup",
		eventstore.ErrUnavailable, eventstore.ErrDamaged)
	s := newServer(t, nil, failingStore{err: damaged})
	id := uuid.NewString()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/readyz", ""},
		{"GET", "/events", ""},
		{"GET", "/streams", ""},
		{"GET", "/streams/" + id, ""},
		{"GET", "/streams/" + id + "/events", ""},
		{"GET", "/streams/" + id + "/events/1", ""},
		{"HEAD", "/streams/" + id + "/events/1", ""},
		{"POST", "/streams/" + id + "/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`},
	} {
		r := s.do(tc.method, tc.path, tc.body)
		if r.status != http.StatusServiceUnavailable || r.header.Values("Retry-After") != nil {
			t.Errorf("%s %s on a damaged file: %d, Retry-After %q; want 503 without Retry-After, as no retry can mend the file\n%s",
				tc.method, tc.path, r.status, r.header.Values("Retry-After"), r.body)
		}
		if tc.method != "HEAD" && !strings.Contains(string(r.body), "retrying will not help") {
			t.Errorf("%s %s on a damaged file: %s; want the detail to say retrying will not help", tc.method, tc.path, r.body)
		}
		// Only an append's says what became of it: a read's, or /readyz's,
		// says nothing of appends, as the README says (a black-box tester).
		if says := strings.Contains(string(r.body), "written"); tc.method != "HEAD" && says != (tc.method == "POST") {
			t.Errorf("%s %s on a damaged file: %s; want the detail to speak of what was written only for an append", tc.method, tc.path, r.body)
		}
	}
	// Out of reach, the same requests still say when to try again.
	unreachable := newServer(t, nil, failingStore{err: fmt.Errorf("read: %w: connection refused", eventstore.ErrUnavailable)})
	if r := unreachable.do("GET", "/events", ""); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("GET /events with the database out of reach: %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
}

// TestAFullDatabasesAnswerSaysItIsFull: a MySQL table that could grow no
// more (error 1114) was a 500 "internal error", with no Retry-After, to
// every append; the store now calls it eventstore.ErrFull, and the 503 says
// that the database is full, which an operator must mend, and, for an
// append, that it was not written; a read's says nothing of appends.
func TestAFullDatabasesAnswerSaysItIsFull(t *testing.T) {
	t.Parallel()
	full := fmt.Errorf("append to x: write events and head, and commit: %w: %w: Error 1114 (HY000): The table 'events' is full",
		eventstore.ErrUnavailable, eventstore.ErrFull)
	s := newServer(t, nil, failingStore{err: full})
	id := uuid.NewString()
	expectUnavailable(t, "an append to a full database", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`),
		[]string{"database is full", "frees space", "not written"}, []string{"may have been", "cannot be reached"})
	expectUnavailable(t, "a read of a full database", s.do("GET", "/events", ""), []string{"database is full"}, []string{"append", "written"})
}

// TestAFullEmbeddedDatabasesAnswerSpeaksOfItsFileSystem: the embedded
// store's full disk was answered "frees space on its disk or lets its
// tablespace grow", a MySQL word where there is no tablespace. Where the
// store says the file system is full (ErrDiskFull), the detail speaks of it
// alone; MySQL's keeps the tablespace.
func TestAFullEmbeddedDatabasesAnswerSpeaksOfItsFileSystem(t *testing.T) {
	t.Parallel()
	full := fmt.Errorf("append to x: write events and head, and commit: %w: %w (%w): database or disk is full (13)",
		eventstore.ErrUnavailable, eventstore.ErrFull, eventstore.ErrDiskFull)
	s := newServer(t, nil, failingStore{err: full})
	id := uuid.NewString()
	expectUnavailable(t, "an append to a full embedded database", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`),
		[]string{"database is full", "file system that holds it has no room", "frees space there", "quota", "not written"}, []string{"tablespace", "may have been"})
	expectUnavailable(t, "a read of a full embedded database", s.do("GET", "/events", ""), []string{"database is full", "file system"}, []string{"tablespace", "written"})
}

// TestARetryWhoseDurabilityCannotBeConfirmedSaysItIsStored: with the
// binary log off, the MySQL store answers a retry of a batch already
// stored (the same ids, the same body) once that commit is known durable;
// where the fence that makes it so cannot commit in time (another session
// holds its row), the retry fails as of unknown outcome, and its 503 said,
// as for a lost COMMIT, that the append "may have been written". The
// store knows its batch is stored, and only its durability is in doubt:
// the 503 says so, and to retry with the same ids. The error is the
// store's (sqlstore's writer, its wait for durability mysqlstore's).
func TestARetryWhoseDurabilityCannotBeConfirmedSaysItIsStored(t *testing.T) {
	t.Parallel()
	unconfirmed := fmt.Errorf("append to x: %w: this batch is already stored (a retry), and whether it is durable could not be confirmed: %w",
		eventstore.ErrOutcomeUnknown, fmt.Errorf("%w: %w: wait for durability: %w", eventstore.ErrUnavailable, eventstore.ErrDurabilityUnconfirmed, context.DeadlineExceeded))
	s := newServer(t, nil, failingStore{err: unconfirmed})
	expectUnavailable(t, "a retry of a stored batch whose durability could not be confirmed",
		s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"id":"`+uuid.NewString()+`","type":"X","data":1}]}`),
		[]string{"is already stored", "durable", "same event ids"}, []string{"may have been", "not written"})
}

// TestAnAppendRefusedForUnsafeDurabilitySaysWhy: a MySQL server restarted
// under the service with settings that let a crash lose acknowledged
// commits (innodb_flush_log_at_trx_commit=2) has every append refused
// (watchDurability), and the 503 said only that the database "cannot be
// reached, or cannot write, right now". It says why, that an operator must
// fix the server's settings, and that the append was not written. The
// error is the store's (sessionDurability; mysqlstore's
// TestAServerRestartedWithOtherDurabilitySettingsIsNoticedWhileTheStoreRuns
// makes it on a real server).
func TestAnAppendRefusedForUnsafeDurabilitySaysWhy(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("append to x: %w: %w: innodb_flush_log_at_trx_commit is 2, not 1: InnoDB does not flush its log at each commit "+
		"(the server's settings changed while the service ran): appends are refused until they are fixed", eventstore.ErrUnavailable, mysqlstore.ErrNotDurable)
	s := newServer(t, nil, failingStore{err: refused})
	expectUnavailable(t, "an append refused for the server's unsafe durability settings", s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`),
		[]string{"settings", "crash", "operator", "not written"}, []string{"may have been", "cannot be reached"})
}

// TestADatabaseFileOverwrittenWhileRunningTellsNoOneToRetry: the embedded
// store's file overwritten in place while the server ran (a backup copied
// over it) has every append and /readyz refused until an operator stops
// the server and puts the file right; the 503 carried Retry-After: 2,
// which clients and proxies obey in a loop, and its detail said to try
// again. It carries none, as a damaged file's, and says why.
func TestADatabaseFileOverwrittenWhileRunningTellsNoOneToRetry(t *testing.T) {
	t.Parallel()
	open := func(dir string) *sqlitestore.Store {
		t.Helper()
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			s.Close()
			t.Fatal(err)
		}
		return s
	}
	backup := open(t.TempDir())
	appendBody := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	if _, err := backup.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "a",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte("1")}, {Type: "X", Data: []byte("2")}}}); err != nil {
		t.Fatal(err)
	}
	if err := backup.Close(); err != nil {
		t.Fatal(err)
	}
	store := open(t.TempDir())
	t.Cleanup(func() { store.Close() })
	s := newServer(t, nil, store)
	expectStatus(t, "an append before the copy", s.do("POST", "/streams/"+uuid.NewString()+"/events", appendBody), 201)
	copied, err := os.ReadFile(backup.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store.Path(), copied, 0o600); err != nil { // in place: the same file, as cp writes it
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/streams/" + uuid.NewString() + "/events", appendBody},
		{"GET", "/readyz", ""},
	} {
		r := s.do(tc.method, tc.path, tc.body)
		detail, _ := r.json(t)["detail"].(string)
		if r.status != http.StatusServiceUnavailable || r.header.Values("Retry-After") != nil ||
			!strings.Contains(detail, "overwritten") || !strings.Contains(detail, "retrying will not help") || strings.Contains(detail, "Retry-After") {
			t.Errorf("%s %s with the database file overwritten while running: %d, Retry-After %q, %s; "+
				"want 503 without Retry-After, its detail saying the file was overwritten and that retrying will not help",
				tc.method, tc.path, r.status, r.header.Values("Retry-After"), r.body)
		}
		if says := strings.Contains(detail, "not written"); says != (tc.method == "POST") {
			t.Errorf("%s %s with the database file overwritten while running: %q; want the detail to say \"not written\" only for an append", tc.method, tc.path, detail)
		}
	}
}
