package mysqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestADSNParameterSpelledAsAVariableIsRefused: the driver sends a DSN
// parameter it does not know as SET <name> = <value>, its name as written.
// Spelled @@name or @@session.name, a parameter is the same session variable
// to the server but another name to the store: @@sql_log_bin=0 took every
// commit out of the binary log past the refusal of sql_log_bin, and
// @@session.sql_select_limit=1 (or @@tx_isolation, @@character_set_client)
// was sent beside the store's own setting, in one SET in map order, so that
// it won about half the time; @@global.name would even be a SET GLOBAL on
// the server (not tried here: the test server is shared). Open must refuse
// any parameter whose name is not a plain variable name.
func TestADSNParameterSpelledAsAVariableIsRefused(t *testing.T) {
	t.Parallel()
	ctx, base := dsnBase(t)
	paramsRefused(ctx, t, base,
		"@@sql_log_bin=0",
		"@@session.sql_log_bin=0",
		"@@SESSION.SQL_LOG_BIN=OFF",
		"@@local.sql_log_bin=0",
		"@@session.sql_select_limit=1",
		"@@tx_isolation=%27READ-UNCOMMITTED%27",
		"@@character_set_client=sjis",
	)
}

// TestADSNParameterWhoseValueHoldsMoreThanOneValueIsRefused: the driver
// writes a DSN parameter's value, unescaped, into its SET as it is given:
// innodb_lock_wait_timeout=10,sql_log_bin=0 (or with the comma escaped,
// %2C) set sql_log_bin past its refusal, and a value ending in
// ,sql_select_limit=1 or ,tx_isolation=… sat beside the store's own setting
// in one SET. Open must refuse a value that is not one value: a word or
// number, or one quoted string.
func TestADSNParameterWhoseValueHoldsMoreThanOneValueIsRefused(t *testing.T) {
	t.Parallel()
	ctx, base := dsnBase(t)
	paramsRefused(ctx, t, base,
		"innodb_lock_wait_timeout=10,sql_log_bin=0",
		"innodb_lock_wait_timeout=10%2C%20sql_log_bin%3D0",
		"innodb_lock_wait_timeout=10,sql_select_limit=1",
		"lock_wait_timeout=5,tx_isolation=%27READ-UNCOMMITTED%27",
		"sql_mode=%27%27,sql_log_bin=0",
		"sql_mode=%27a%5C%27,sql_log_bin=0,%40a=%27", // 'a\',sql_log_bin=0,@a=': one string only with backslash escapes on
	)
	// Values of one word, number or quoted string still open.
	for _, param := range []string{
		"innodb_lock_wait_timeout=10",
		"sql_mode=%27ANSI_QUOTES,NO_BACKSLASH_ESCAPES%27",
		"sql_mode=TRADITIONAL",
		"lock_wait_timeout=5",
		"max_statement_time=2.5",
		"sql_mode=%27it%27%27s%27",
	} {
		s, err := mysqlstore.Open(ctx, withParam(base, param), mysqlstore.Options{})
		if err != nil && strings.Contains(err.Error(), "one value") {
			t.Errorf("Open with the DSN parameter %s: %v; want it accepted", param, err)
			continue
		}
		if err == nil {
			s.Close()
		}
	}
}

// dsnBase gives a fresh database's DSN and a minute to open stores on it.
func dsnBase(t *testing.T) (context.Context, string) {
	t.Helper()
	base := mysqltest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx, base
}

// paramsRefused opens, for each param, a store on base with param, and one
// with base's database as its read replica with param, expecting both
// refused with an error naming the parameter. (A server is no replica of
// itself: only the refusal names the parameter.)
func paramsRefused(ctx context.Context, t *testing.T, base string, params ...string) {
	t.Helper()
	for _, param := range params {
		for _, opts := range []struct {
			what      string
			dsn, read string
		}{{"Open with the DSN parameter", withParam(base, param), ""}, {"the read replica's DSN with the parameter", base, withParam(base, param)}} {
			s, err := mysqlstore.Open(ctx, opts.dsn, mysqlstore.Options{ReadDSN: opts.read})
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "parameter") {
				t.Errorf("%s %s: %v; want it refused, naming the parameter", opts.what, param, err)
			}
		}
	}
}

// TestADSNParameterThatWeakensAGuaranteeIsRefused: the store relies on its
// unique keys (an event id, a stream's version, a position are each taken
// once: a conflict, a retry and a group sent in one round trip are found by
// them), on Galera replicating its writes to every node, and on replicas
// applying every commit of the binary log. unique_checks=0 lets InnoDB
// skip the check of a secondary unique key (two events at one version of a
// stream), wsrep_on=0 keeps a session's writes on its node, and
// skip_replication=1 marks its commits for replicas to skip: each was sent
// to the server as it is. Open must refuse them, as it refuses sql_log_bin.
func TestADSNParameterThatWeakensAGuaranteeIsRefused(t *testing.T) {
	t.Parallel()
	ctx, base := dsnBase(t)
	for _, param := range []string{
		"unique_checks=0",
		"UNIQUE_CHECKS=OFF",
		"wsrep_on=0",
		"skip_replication=1",
		"Skip_Replication=ON",
	} {
		paramsRefused(ctx, t, base, param)
		// Named as the operator would look it up, however the DSN spells it.
		name, _, _ := strings.Cut(param, "=")
		if _, err := mysqlstore.Open(ctx, withParam(base, param), mysqlstore.Options{}); err == nil || !strings.Contains(err.Error(), strings.ToLower(name)) {
			t.Errorf("Open with the DSN parameter %s: %v; want it refused, naming %s", param, err, strings.ToLower(name))
		}
	}
	// foreign_key_checks: the schema has no foreign key, so it weakens
	// nothing; sql_safe_updates: every UPDATE of the store's has its key.
	for _, param := range []string{"foreign_key_checks=0", "sql_safe_updates=1"} {
		s, err := mysqlstore.Open(ctx, withParam(base, param), mysqlstore.Options{})
		if err != nil {
			t.Errorf("Open with the DSN parameter %s: %v; want it accepted", param, err)
			continue
		}
		s.Close()
	}
}
