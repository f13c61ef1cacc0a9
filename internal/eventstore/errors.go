package eventstore

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Sentinel errors. Stores and the HTTP layer wrap them with context; callers
// test for them with errors.Is.
var (
	ErrStreamNotFound       = errors.New("stream not found")
	ErrEventNotFound        = errors.New("event not found")
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	ErrDuplicateEventID     = errors.New("duplicate event id")
	ErrIdempotencyKeyReused = errors.New("idempotency key reused")
	ErrStreamTypeMismatch   = errors.New("stream type mismatch")
	ErrStreamTypeRequired   = errors.New("stream_type is required to create a stream")
	// ErrInvalid marks input that fails validation.
	ErrInvalid = errors.New("invalid input")
	// ErrTooLarge marks an append that the database beneath the store can
	// never write as sent (a server's packet or a row's limit); the request
	// must be made smaller, so retrying it as it is cannot succeed.
	ErrTooLarge = errors.New("too large for the database")
	// ErrUnavailable marks a failure to reach the database; the request may
	// be retried later.
	ErrUnavailable = errors.New("database unavailable")
	// ErrRefused marks a request the database refused its user or its
	// writes: a privilege revoked, the account locked or its password
	// expired or changed, the server read-only. Nothing was written. While
	// the store serves, it comes with ErrUnavailable: the request may pass
	// once an operator grants, unlocks or makes the server writable again.
	ErrRefused = errors.New("the database refuses the service's user or its writes")
	// ErrOutcomeUnknown marks an append whose COMMIT was sent and whose
	// answer was lost, and whether it committed could not be found out: it
	// may have been written. It comes with ErrUnavailable.
	// Sending the same batch again with the same event ids is safe (a
	// stored batch is a retry); without ids, read the stream first.
	ErrOutcomeUnknown = errors.New("the append's outcome is unknown")
	// ErrDamaged marks a read or an append that met damage in the
	// database: in the embedded store's own files (an operator restores
	// the file), or in what its tables hold together (a log head behind
	// its events, a stream's row missing: the error says the repair), on
	// either store. Retrying cannot mend it. It comes with ErrUnavailable,
	// which takes the instance out of service (/readyz).
	ErrDamaged = errors.New("the database is damaged")
	// ErrFull marks an append (or a read that needed room of its own)
	// that the database refused for want of space: a table at the most
	// its tablespace may hold, or the disk beneath it full. Nothing was
	// written. It comes with ErrUnavailable: the request may pass once an
	// operator frees space or lets the tablespace grow.
	ErrFull = errors.New("the database is full")
	// ErrDiskFull comes with ErrFull where the store knows the want of
	// space is its file system's, with no tablespace to grow (the embedded
	// store's file and WAL): the remedy is only to free space there.
	ErrDiskFull = errors.New("the database's file system is full")
	// ErrNotDurable marks an append that the store refused because the
	// database's settings let a crash lose acknowledged commits (the MySQL
	// server's innodb_flush_log_at_trx_commit, or its binary log's
	// sync_binlog, changed while the service ran). Nothing was written. It
	// comes with ErrUnavailable: appends pass once an operator fixes the
	// settings.
	ErrNotDurable = errors.New("the database does not make commits durable")
	// ErrDurabilityUnconfirmed marks a wait for commits the store has seen
	// to be on disk that ended before it could confirm they are (the MySQL
	// store's durability fence, with the binary log off). With
	// ErrOutcomeUnknown it is a retry of a batch already stored: its
	// events are there, and a crash of the database could yet take them
	// back; sending it again with the same event ids is safe.
	ErrDurabilityUnconfirmed = errors.New("the durability of what the database shows could not be confirmed")
	// ErrOverwritten marks a request refused because the embedded store's
	// database file was written by something other than SQLite while the
	// service ran (a copy over it): retrying cannot mend it; an operator
	// must stop the service and put the file right. Nothing was written.
	// It comes with ErrUnavailable, which takes the instance out of service
	// (/readyz).
	ErrOverwritten = errors.New("the database file was overwritten while the service ran")
	// ErrMoved marks a request refused because the embedded store's
	// database file was moved or removed while the service ran: it serves
	// again once an operator puts the file back (or restarts the service
	// where it is now). Nothing was written. It comes with ErrUnavailable.
	ErrMoved = errors.New("the database file was moved or removed while the service ran")
	// ErrRestartNeeded marks a request refused because the embedded
	// store's files changed under the running service in a way that only
	// its clean stop and a start mend (its WAL removed or replaced): retrying
	// cannot help. It comes with ErrUnavailable.
	ErrRestartNeeded = errors.New("the service must be restarted")
	// ErrStorageFailed marks a request that the embedded store's file
	// system failed: SQLite found no directory to write a temporary file
	// in, or reading, writing or syncing the database's files failed (an
	// I/O error: a failing disk, a file system gone read-only after errors;
	// not one with no room left, a quota used up included: ErrFull).
	// Retrying as things are does not help: an operator mends the disk or
	// the deployment (the error says which). Nothing was written
	// unless the error says the outcome is unknown. It comes with
	// ErrUnavailable.
	ErrStorageFailed = errors.New("the database's storage failed")
	// ErrHeadBehind marks an append refused because the log's head is
	// behind the last position its events hold (a restore from dumps taken
	// apart, a row written to events without the log's lock, or log_head
	// edited by hand, on either store): every
	// append would take a position taken. It comes with ErrDamaged (no retry
	// mends it) and ErrUnavailable; an operator mends it (the error says
	// how).
	ErrHeadBehind = errors.New("the log's head is behind its events")
	// ErrReplicaOtherLog marks a read refused, and a readiness check
	// failed, because the read replica serves another log than the
	// primary's (its head past the primary's, or another event there than
	// the primary's at that position): another server's, or one promoted
	// and written to. It comes with ErrUnavailable; an operator mends the
	// read replica's DSN or its replication.
	ErrReplicaOtherLog = errors.New("the read replica serves another log than the primary's")
)

// MissingError reports that the database the store keeps its data in, or
// one of its tables, or a column of one, or an index the store's reads
// name, is not there while the service runs: dropped by hand, or a restore
// begun in its place, or an older schema restored. Retrying cannot mend it
// until an operator makes the index again (Create), or, for the rest, until an
// operator restores it (a database dropped whole may also be made anew,
// empty, with `api migrate`; a table may not: migrate does not make again
// a table whose step it has recorded), then restarts the service: the
// live feed of a running one is past the head of a log restored or made
// anew, and would hand its subscribers none of the events appended at the
// positions it has passed. It is the database's trouble, not the
// service's: errors.Is(err, ErrUnavailable) holds for it, which takes the
// instance out of service (/readyz).
type MissingError struct {
	// Database is the database's name, "" if not known.
	Database string
	// Table is the missing table's name; "" when the database itself is
	// missing, or a column.
	Table string
	// Column is the missing column's name, when the store's tables are
	// there but one lacks a column the store uses (an older schema
	// restored under the service); "" otherwise.
	Column string
	// Index is the missing index's name, when the store's tables are there
	// but lack an index that its reads name (MySQL's FORCE INDEX, SQLite's
	// INDEXED BY), which fail without it; "" otherwise.
	Index string
	// Create is the statement that makes Index again as the migrations
	// make it, "" if it is not known.
	Create string
	// Found is the statement that made what the database has under
	// Index's name, where that is not the index the migrations make (made
	// again by hand: partial, or on other columns); "" where there is none.
	Found string
	// UseAgain is what has Index used again where it is there but the
	// database does not use it (MariaDB's IGNORED, MySQL 8's INVISIBLE: a
	// statement that names it fails as without it), "" where no database
	// of the store's hides an index.
	UseAgain string
	// Replica is the read replica's address where Index is missing there
	// only, "" where it is the database's the store writes to. It is made
	// on the primary, from which the replica has it, or the replica
	// rebuilt from the primary: never by hand on the replica, where the
	// primary's own statement, replicated, would then fail.
	Replica string
	// Err is the database's own error.
	Err error
}

func (e *MissingError) Error() string {
	if e.Index != "" && e.Replica != "" {
		return fmt.Sprintf("the read replica at %s lacks the index %s, or has it IGNORED or INVISIBLE, which the reads of the log "+
			"filtered on stream or event types use (the primary has it): a migration not applied there yet, or a replica rebuilt without it; "+
			"those reads fail until it is there. Make it on the primary, from which it replicates, or rebuild the replica from the primary; "+
			"do not alter the replica by hand (the primary's own statement, replicated, would then fail and stop replication)", e.Replica, e.Index)
	}
	if e.Index != "" {
		// No restore nor restart: the index holds nothing the log lacks.
		mend := "make it again as the migrations make it"
		if e.Create != "" {
			mend = "make it again with " + e.Create
		}
		if e.Found != "" {
			return fmt.Sprintf("the database has the index %s, which the reads of the log filtered on stream or event types use, as %s, "+
				"not as the migrations make it: was it made again by hand? those reads fail, or miss events, until it is made right: make it right with %s",
				e.Index, e.Found, e.Create)
		}
		dropped := "was it dropped?"
		if e.UseAgain != "" {
			dropped = "was it dropped, or made IGNORED or INVISIBLE?"
			mend += "; or, where it is there but IGNORED or INVISIBLE, use it again with " + e.UseAgain
		}
		return fmt.Sprintf("the database lacks the index %s, which the reads of the log filtered on stream or event types use: "+
			"%s those reads fail until it is made again: %s", e.Index, dropped, mend)
	}
	if e.Column != "" {
		return fmt.Sprintf("the database's tables lack the column %s: was an older backup restored, or the column dropped? "+
			"restore the database from a backup of this release's schema (an older backup restored whole is brought up to date by `api migrate`), "+
			"then restart the service", e.Column)
	}
	if e.Table != "" {
		return fmt.Sprintf("the database's table %s is missing: was it dropped? restore the database from a backup, then restart the service", e.Table)
	}
	name := "the service's database"
	if e.Database != "" {
		name = "the database " + e.Database
	}
	return name + " is missing: was it dropped? restore it, or create it and run `api migrate`, then restart the service"
}

func (e *MissingError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// UnwrittenColumnError reports a column of the store's tables that the
// store does not write, NOT NULL and without a default (added by hand, or
// a schema of another release restored under the service): every append
// that inserts a row into its table fails on it (for streams, only those
// that create a stream). Retrying cannot mend it until an operator drops
// the column or gives it a default (SQLite cannot: Mend says so), which
// mends it at once, without a restart. It is the database's trouble: errors.Is(err, ErrUnavailable)
// holds for it. Reads are served, so a store's Ping returns it (Table set,
// Err nil) only once the rest passed, as a partial finding: /readyz stays
// 200, saying appends are refused.
type UnwrittenColumnError struct {
	// Table is the column's table, "" where the database's error does
	// not say (an append's: MySQL's names only the column).
	Table string
	// Column is the column's name.
	Column string
	// Err is the database's own error, nil where the store found the
	// column by looking (Ping).
	Err error
	// Mend is how an operator mends it where the store's database cannot
	// give a column a default (SQLite has no ALTER COLUMN): what follows
	// "until an operator" in Error; "" for "drops the column or gives it a
	// default".
	Mend string
}

func (e *UnwrittenColumnError) Error() string {
	where := "the database's tables have a column " + e.Column
	if e.Table != "" {
		where = "the database's table " + e.Table + " has a column " + e.Table + "." + e.Column
	}
	fails := "every append that writes a row to its table fails (of events, every append; of streams, those that create a stream)"
	switch e.Table {
	case "":
	case "streams":
		fails = "every append that creates a stream fails (appends to a stream already there are written)"
	default:
		fails = "every append fails"
	}
	mend := cmp.Or(e.Mend, "drops the column or gives it a default")
	return where + " that the store does not write, NOT NULL and without a default: " + fails + " until an operator " + mend +
		" (was an older schema, or another release's, restored under the service? then restore a backup of " +
		"this release's schema, which `api migrate` brings up to date if older, and restart the service)"
}

func (e *UnwrittenColumnError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// WrongExpectedVersionError reports that a stream was not at the version an
// append expected. errors.Is(err, ErrWrongExpectedVersion) holds for it.
type WrongExpectedVersionError struct {
	StreamID uuid.UUID
	Expected ExpectedVersion
	Current  int64
}

func (e *WrongExpectedVersionError) Error() string {
	n, exact := e.Expected.Number()
	switch {
	case e.Expected.IsStreamExists():
		return fmt.Sprintf("stream %s does not exist, but the request requires that it does", e.StreamID)
	case exact && n == 0:
		return fmt.Sprintf("stream %s already exists, at version %d, but the request requires that it does not", e.StreamID, e.Current)
	case exact:
		return fmt.Sprintf("stream %s is at version %d, but the request expected version %d", e.StreamID, e.Current, n)
	}
	return fmt.Sprintf("stream %s is at version %d, not at the expected %s", e.StreamID, e.Current, e.Expected)
}

func (e *WrongExpectedVersionError) Unwrap() error { return ErrWrongExpectedVersion }

// DuplicateEventError reports an event id already used by another stream
// (whatever content was sent with it), or, InStream, stored in the request's own stream in a batch the request
// does not repeat exactly (a part of it, or with new events), which no
// retry is. errors.Is(err, ErrDuplicateEventID) holds for it.
type DuplicateEventError struct {
	EventID  uuid.UUID
	InStream bool
	// Unnamed lists, InStream, the events of the request sent without an
	// id (by index): such a request is never recognised as a retry, for
	// its events without one were given new ids when first stored. Set
	// only on the refusal, with Version and BatchSize.
	Unnamed []int
	// Version is where EventID is stored; BatchSize is how many events
	// its batch stored where it is the batch's first, 0 if not or unknown.
	Version, BatchSize int64
}

func (e *DuplicateEventError) Error() string {
	switch {
	case e.InStream && len(e.Unnamed) > 0:
		where := fmt.Sprintf("stored at version %d", e.Version)
		if e.BatchSize > 0 {
			where = fmt.Sprintf("the first of a batch of %d stored at versions %d to %d", e.BatchSize, e.Version, e.Version+e.BatchSize-1)
		}
		return fmt.Sprintf("event id %s is already in this stream, %s; but this request's %s, so it cannot be recognised as a retry "+
			"(a retry is recognised only when every event of the batch has an id, and all of them are stored): "+
			"if this request is that batch sent again, it is stored and nothing more was written; "+
			"give every event of a batch an id for its retries to be recognised, and send new events in a request of their own",
			e.EventID, where, unnamedEvents(e.Unnamed))
	case e.InStream:
		return fmt.Sprintf("event id %s is already stored in this stream, as part of a batch this request does not repeat exactly: "+
			"a retry must resend the whole batch as it was sent (the same events in the same order, none left out, none added); "+
			"send new events in a request of their own", e.EventID)
	}
	return fmt.Sprintf("event id %s is already used by another stream", e.EventID)
}

// unnamedEvents names the events of a request without an id, by index:
// "events[1] has no id", "events[0] and events[2] have no id", at most
// five of them named.
func unnamedEvents(at []int) string {
	const most = 5
	names := make([]string, 0, min(len(at), most))
	for _, i := range at[:min(len(at), most)] {
		names = append(names, fmt.Sprintf("events[%d]", i))
	}
	switch {
	case len(at) == 1:
		return names[0] + " has no id"
	case len(at) > most:
		return fmt.Sprintf("%s and %d more have no id", strings.Join(names, ", "), len(at)-most)
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " have no id"
}

func (e *DuplicateEventError) Unwrap() error { return ErrDuplicateEventID }

// IdempotencyKeyReusedError reports an event id stored in the request's
// stream sent again with other content: another type, data, metadata or
// stream type (an id of another stream is a DuplicateEventError whatever its
// content). A retry must repeat the stored batch exactly. errors.Is(err, ErrIdempotencyKeyReused) holds for it.
type IdempotencyKeyReusedError struct {
	EventID uuid.UUID
	// Field names what differs: type, data, metadata or stream_type.
	Field string
}

func (e *IdempotencyKeyReusedError) Error() string {
	return fmt.Sprintf("event id %s is already stored, and its %s differs; a retry must repeat the stored batch exactly", e.EventID, e.Field)
}

func (e *IdempotencyKeyReusedError) Unwrap() error { return ErrIdempotencyKeyReused }

// StreamTypeMismatchError reports an append whose stream_type differs from the
// stored one. errors.Is(err, ErrStreamTypeMismatch) holds for it.
type StreamTypeMismatchError struct {
	StreamID uuid.UUID
	Stored   string
	Given    string
}

func (e *StreamTypeMismatchError) Error() string {
	return fmt.Sprintf("stream %s has type %q, not %q", e.StreamID, e.Stored, e.Given)
}

func (e *StreamTypeMismatchError) Unwrap() error { return ErrStreamTypeMismatch }

// ValidationError reports one invalid field. errors.Is(err, ErrInvalid) holds
// for it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PrivilegeError is a statement's refusal of a privilege on the database's
// tables that its user was denied (MySQL's 1142, 1143: a privilege revoked
// while the service runs; start-up refuses a user without it). The store
// wraps it with ErrRefused and ErrUnavailable: nothing was written, and
// the request may pass once an operator grants the privilege again. Its
// fields say what to grant; they hold no user name and no secret.
type PrivilegeError struct {
	// Privilege is the privilege denied as the database names it
	// ("INSERT"), "" if it does not say.
	Privilege string
	// Table is the table it was denied on ("events"), "" if not said.
	Table string
	// Replica is set where the read replica refused it, to the user of its
	// DSN (TRIBUTARY_MYSQL_READ_DSN), which only reads: the grant is the
	// replica's to mend, not the primary's.
	Replica bool
	// Err is the database's own error (it names the user, never a
	// password).
	Err error
}

func (e *PrivilegeError) Error() string {
	if e.Replica {
		return fmt.Sprintf("the read replica denies the user of TRIBUTARY_MYSQL_READ_DSN %s; grant it again there (%s): %v", e.Denied(), e.Grant(), e.Err)
	}
	return fmt.Sprintf("the database denies the DSN's user %s; grant it again (%s): %v", e.Denied(), e.Grant(), e.Err)
}

func (e *PrivilegeError) Unwrap() error { return e.Err }

// Denied is the privilege and the table, in words ("the INSERT privilege
// on its table events"), without the user.
func (e *PrivilegeError) Denied() string {
	what := "a privilege the store needs"
	if e.Privilege != "" {
		what = "the " + e.Privilege + " privilege"
	}
	if e.Table != "" {
		what += " on its table " + e.Table
	}
	return what
}

// Grant says how an operator grants it, without naming the user: the
// statement, where the database named the privilege and the table.
func (e *PrivilegeError) Grant() string {
	user, needs := "the DSN's user", "the service needs SELECT, INSERT and UPDATE on its tables"
	if e.Replica {
		user, needs = "the user of TRIBUTARY_MYSQL_READ_DSN, on the read replica", "the service's reads need SELECT on its tables there"
	}
	if e.Privilege == "" || e.Table == "" {
		return "the database's error names it; " + needs
	}
	return fmt.Sprintf("GRANT %s ON <database>.%s TO %s; %s", e.Privilege, e.Table, user, needs)
}
