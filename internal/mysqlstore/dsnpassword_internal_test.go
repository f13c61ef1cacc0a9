package mysqlstore

import (
	"strings"
	"testing"
)

// TestADSNRefusalNeverQuotesWhatMayBeThePassword: a DSN with the host left
// out and a password holding an @ (app:S3cr@tPass/tributary) was refused
// quoting "the address tPass", the password's tail, which the driver takes
// for the address (hostile reviewer 3's F3). The refusal must still say
// the form to write, and quote nothing after the user's colon, whatever the
// password holds (@ / : ( )), for the primary's DSN and the replica's.
func TestADSNRefusalNeverQuotesWhatMayBeThePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, secret string }{
		{"app:S3cr@tPass/tributary", "tPass"},
		{"app:S3cr@t:Pass/tributary", "t:Pass"},
		{"app:a@b/Secret/tributary", "Secret"},
		{"app:a@b)Secret/tributary", "Secret"},
		{"app:a@Secret(x/tributary", "Secret"},
		{"app:Secret(x@localhost/tributary", "Secret"},
		{"app:a@b@Secret.example/tributary", "Secret"},
	} {
		for _, what := range []string{primaryDSN, replicaDSN} {
			_, err := parseDSN(tc.dsn, what)
			if err == nil || strings.Contains(err.Error(), tc.secret) {
				t.Errorf("parseDSN(%q): expected a refusal without %q (part of the password), got %v", tc.dsn, tc.secret, err)
			}
		}
	}
	// Without a password, the address is quoted: nothing of a secret is in it.
	_, err := parseDSN("app@db.example:3306/tributary", primaryDSN)
	if err == nil || !strings.Contains(err.Error(), "db.example:3306") || !strings.Contains(err.Error(), "user:password@tcp(host:3306)/dbname") {
		t.Errorf("parseDSN of a DSN without password and its address outside tcp(…): expected the address quoted and the form to write, got %v", err)
	}
}

// TestADSNWhosePasswordBeginsWithTwoSlashesIsNotTakenForAURL: user app,
// password //secret, written app://secret@tcp(host)/db, is a valid DSN in
// the driver's form but was refused as a URL with scheme app:// (hostile
// reviewer 3's F4). A DSN is a URL only when no @tcp( or @unix( follows.
func TestADSNWhosePasswordBeginsWithTwoSlashesIsNotTakenForAURL(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"app://secret@tcp(127.0.0.1:3306)/tributary",
		"app://sec@ret@unix(/run/mysqld/mysqld.sock)/tributary",
	} {
		if _, err := parseDSN(dsn, primaryDSN); err != nil {
			t.Errorf("parseDSN(%q): expected it accepted (a password beginning //), got %v", dsn, err)
		}
	}
	for _, dsn := range []string{
		"mysql://app:secret@127.0.0.1:3306/tributary",
		"mariadb://app:secret@db.example/tributary",
	} {
		_, err := parseDSN(dsn, primaryDSN)
		if err == nil || !strings.Contains(err.Error(), "written as a URL") || strings.Contains(err.Error(), "secret") {
			t.Errorf("parseDSN(%q): expected a refusal as a URL, without the password, got %v", dsn, err)
		}
	}
}

// TestAReplicaDSNNamingAServersOwnSchemaSaysToNameThePrimarysDatabase: a
// TRIBUTARY_MYSQL_READ_DSN naming the database mysql was refused with the
// primary's advice, to CREATE DATABASE tributary, where a replica has the
// primary's database already and is read, never written: the remedy there
// is to name that database.
func TestAReplicaDSNNamingAServersOwnSchemaSaysToNameThePrimarysDatabase(t *testing.T) {
	t.Parallel()
	_, err := parseDSN("app:pw@tcp(127.0.0.1:3306)/mysql", replicaDSN)
	if err == nil || strings.Contains(err.Error(), "CREATE DATABASE") || !strings.Contains(err.Error(), "the primary's database") {
		t.Errorf("the replica's DSN naming the database mysql: %v; want it refused, saying to name the primary's database (as on the replica), not to create one", err)
	}
	_, err = parseDSN("app:pw@tcp(127.0.0.1:3306)/mysql", primaryDSN)
	if err == nil || !strings.Contains(err.Error(), "CREATE DATABASE") {
		t.Errorf("the primary's DSN naming the database mysql: %v; want it refused, saying to create a database for Tributary", err)
	}
}
