package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheDSNIsReadFromItsFile: TRIBUTARY_MYSQL_DSN_FILE and
// TRIBUTARY_MYSQL_READ_DSN_FILE name a file (a Docker or Kubernetes
// secret) holding the DSN, so that its password need not be in the
// environment (operator tester's F20). Its one line is the DSN, the line
// end (\n or \r\n) and a byte order mark dropped.
func TestTheDSNIsReadFromItsFile(t *testing.T) {
	dir := t.TempDir()
	primary := filepath.Join(dir, "dsn")
	replica := filepath.Join(dir, "read-dsn")
	const dsn = "app:S3cret/pw@tcp(db:3306)/tributary"
	const readDSN = "app:S3cret/pw@tcp(replica:3306)/tributary"
	for _, content := range []string{dsn, dsn + "\n", dsn + "\r\n", "\ufeff" + dsn + "\n"} {
		if err := os.WriteFile(primary, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(replica, []byte(readDSN+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TRIBUTARY_MYSQL_DSN_FILE", primary)
		t.Setenv("TRIBUTARY_MYSQL_READ_DSN_FILE", replica)
		// Set but empty, the variables give no DSN (compose's
		// environment, which an override cannot unset, empties them).
		t.Setenv("TRIBUTARY_MYSQL_DSN", "")
		t.Setenv("TRIBUTARY_MYSQL_READ_DSN", "")
		c, err := Load()
		if err != nil {
			t.Fatalf("the DSN file holding %q: expected it read, got %v", content, err)
		}
		if c.MySQLDSN != dsn || c.MySQLReadDSN != readDSN {
			t.Errorf("the DSN file holding %q: expected MySQLDSN %q and MySQLReadDSN %q, got %q and %q", content, dsn, readDSN, c.MySQLDSN, c.MySQLReadDSN)
		}
	}
}

// TestADSNFileThatCannotServeIsRefusedWithoutItsContent: a DSN given both
// ways, a file missing, unreadable, empty, of several lines or with white
// space around the DSN, and a DSN given in the _FILE variable, are refused
// at start-up naming the variable (and the file, but for a DSN-shaped
// name), never quoting what the file holds.
func TestADSNFileThatCannotServeIsRefusedWithoutItsContent(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "S3cretPW"
	good := write("good", "app:"+secret+"@tcp(db:3306)/tributary\n", 0o600)
	unreadable := write("unreadable", "app:"+secret+"@tcp(db:3306)/tributary\n", 0o000)
	for _, v := range []string{"TRIBUTARY_MYSQL_DSN", "TRIBUTARY_MYSQL_READ_DSN"} {
		fileVar := v + "_FILE"
		for _, tc := range []struct {
			name         string
			file         string
			alsoVariable bool
			want         []string
		}{
			{"both set", good, true, []string{fileVar, v, "both set"}},
			{"missing", filepath.Join(dir, "missing"), false, []string{fileVar, filepath.Join(dir, "missing"), "no such file"}},
			{"unreadable", unreadable, false, []string{fileVar, unreadable, "permission denied", "uid"}},
			{"a directory", dir, false, []string{fileVar, dir, "cannot be read"}},
			{"empty", write("empty", "\n", 0o600), false, []string{fileVar, "holds no DSN"}},
			{"two lines", write("two", "app:"+secret+"@tcp(db:3306)/t\nmore\n", 0o600), false, []string{fileVar, "more than one line"}},
			{"spaces", write("spaces", " app:"+secret+"@tcp(db:3306)/t\n", 0o600), false, []string{fileVar, "white space"}},
			{"a DSN for a name", "app:" + secret + "@tcp(db:3306)/tributary", false, []string{fileVar, "looks like a MySQL DSN"}},
		} {
			t.Run(fileVar+" "+tc.name, func(t *testing.T) {
				if tc.name == "unreadable" && os.Geteuid() == 0 {
					t.Skip("root reads a file of mode 0000")
				}
				if v == "TRIBUTARY_MYSQL_READ_DSN" {
					t.Setenv("TRIBUTARY_MYSQL_DSN", "app@tcp(db:3306)/tributary")
				}
				t.Setenv(fileVar, tc.file)
				if tc.alsoVariable {
					t.Setenv(v, "app:"+secret+"@tcp(db:3306)/tributary")
				}
				_, err := Load()
				if err == nil {
					t.Fatalf("%s (%s): expected a refusal, it loaded", fileVar, tc.name)
				}
				msg := err.Error()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s (%s): expected the refusal to say %q, got %v", fileVar, tc.name, w, err)
					}
				}
				if strings.Contains(msg, secret) || strings.Contains(msg, "more\n") {
					t.Errorf("%s (%s): the refusal quotes what the file or variable holds: %v", fileVar, tc.name, err)
				}
			})
		}
	}
}

// TestAnEmptyDSNFileVariableIsAsUnset: compose.yaml lists every setting,
// TRIBUTARY_MYSQL_DSN_FILE and TRIBUTARY_MYSQL_READ_DSN_FILE with an empty
// default (as TRIBUTARY_API_TOKENS_FILE), and passes them set but empty
// where .env does not name a file: the DSN in the variable is then in
// force, as without them. (Refused, every compose start failed.)
func TestAnEmptyDSNFileVariableIsAsUnset(t *testing.T) {
	const dsn, read = "app@tcp(db:3306)/tributary", "app@tcp(replica:3306)/tributary"
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_MYSQL_READ_DSN", read)
	t.Setenv("TRIBUTARY_MYSQL_DSN_FILE", "")
	t.Setenv("TRIBUTARY_MYSQL_READ_DSN_FILE", "")
	c, err := Load()
	if err != nil {
		t.Fatalf("the DSNs in their variables, both _FILE variables set but empty: %v; expected them loaded as without the _FILE variables", err)
	}
	if c.MySQLDSN != dsn || c.MySQLReadDSN != read {
		t.Errorf("the DSNs in their variables, both _FILE variables set but empty: loaded %q and %q; expected %q and %q", c.MySQLDSN, c.MySQLReadDSN, dsn, read)
	}
}
