// Package tests holds Tributary's end-to-end tests: each one starts the real
// binary on 127.0.0.1:0 with a database of its own and speaks HTTP to it.
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// apiBinary is the path of the server binary, built once by TestMain.
var apiBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the binary into a temporary directory, runs the tests and
// removes the directory; a separate function so the deferred removal runs
// before os.Exit.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tributary-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	apiBinary = filepath.Join(dir, "api")
	var out bytes.Buffer
	// Built as the Dockerfile builds it but for the version stamp, so the
	// two builds share their compiled packages (TestDockerfileBuild… builds
	// with the Dockerfile's own command).
	build := exec.Command("go", "build", "-trimpath", "-o", apiBinary, "github.com/tributary-dev/tributary/cmd/api")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/api: %v\n%s", err, out.Bytes())
		return 1
	}
	return m.Run()
}
