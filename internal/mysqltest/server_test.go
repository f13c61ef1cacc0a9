package mysqltest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAPrivateServerLeavesTheSharedServersTemporaryFilesAlone: mariadbd, as it
// starts (mariadb-install-db's bootstrap too), deletes every file named
// #sql* in its tmpdir, taking them for what a crash left. The shared
// server's tmpdir is the system's (/tmp): a private server initialised with
// that default deleted the on-disk temporary tables of queries running on
// the shared server at that moment, which then failed ("Error on delete of
// '/tmp/#sql-temptable-….MAI' (Errcode: 2)"), in whichever test ran them.
func TestAPrivateServerLeavesTheSharedServersTemporaryFilesAlone(t *testing.T) {
	dirs := []string{os.TempDir()}
	if os.TempDir() != "/tmp" {
		dirs = append(dirs, "/tmp")
	}
	var decoys []string
	for _, d := range dirs {
		decoy := filepath.Join(d, "#sql-tributary-decoy-"+uuid.NewString()+".MAI")
		if err := os.WriteFile(decoy, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(decoy) })
		decoys = append(decoys, decoy)
	}
	mysqltest.NewServer(t) // initialised, then started
	for _, decoy := range decoys {
		if _, err := os.Stat(decoy); err != nil {
			t.Errorf("after a private server's start, a temporary file in the shared tmpdir: %v", err)
		}
	}
}
