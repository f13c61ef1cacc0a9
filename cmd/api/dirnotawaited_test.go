package main

import (
	"context"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADirectoryGivenAsAFileIsNotAwaited: a directory given as the DSN file
// or the tokens file was taken for a FIFO, and the start logged "waiting
// for a … file that is no regular file (a FIFO?) to be written and closed"
// before it failed at once on the read, sending an operator after a
// secret manager; the DSN file's error said "is a directory (a
// directory?)". It fails at once, naming the variable, with no wait said.
func TestADirectoryGivenAsAFileIsNotAwaited(t *testing.T) {
	for _, variable := range []string{"TRIBUTARY_MYSQL_DSN_FILE", "TRIBUTARY_API_TOKENS_FILE"} {
		t.Run(variable, func(t *testing.T) {
			t.Setenv(variable, t.TempDir())
			t.Setenv("TRIBUTARY_DATA_DIR", t.TempDir())
			t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
			var logs testlog.Buffer
			err := run(context.Background(), context.Background(), []string{"serve"}, &logs)
			if err == nil || !strings.Contains(err.Error(), variable) || !strings.Contains(err.Error(), "is a directory") {
				t.Errorf("%s naming a directory: expected the start to fail naming it and saying it is a directory, got %v", variable, err)
			}
			if strings.Contains(err.Error(), "(a directory?)") {
				t.Errorf("%s naming a directory: the error asks what it has just said: %v", variable, err)
			}
			if out := logs.String(); strings.Contains(out, "waiting for") {
				t.Errorf("%s naming a directory: expected no wait said, the log says:\n%s", variable, out)
			}
		})
	}
}
