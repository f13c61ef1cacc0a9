//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestAThirdSignalEndsTheProcessAtOnce: after the second signal (the cut)
// the goroutine in signals() returned while still registered with
// signal.Notify, so a third SIGTERM or SIGINT was caught and dropped: a cut
// stop that hung (a store close that hangs) could only be ended by kill -9.
// The second signal now gives the signals back to their default action.
// The default action kills the process, so the test runs in a child: this
// test binary re-executed with thirdSignalEnv set.
func TestAThirdSignalEndsTheProcessAtOnce(t *testing.T) {
	if name := os.Getenv(thirdSignalEnv); name != "" {
		thirdSignalChild(name)
		return
	}
	for _, name := range []string{"SIGTERM", "SIGINT"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAThirdSignalEndsTheProcessAtOnce$")
			cmd.Env = append(os.Environ(), thirdSignalEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the child: expected death by a third %s, got %v; its output:\n%s", name, err, out)
			}
			status, ok := exit.Sys().(syscall.WaitStatus)
			if !ok || !status.Signaled() || status.Signal() != thirdSignals[name] {
				t.Fatalf("the child: expected death by a third %s, got %v; its output:\n%s", name, err, out)
			}
		})
	}
}

const thirdSignalEnv = "TRIBUTARY_TEST_THIRD_SIGNAL"

var thirdSignals = map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}

// thirdSignalChild signals itself three times as an operator would and
// exits 3 only if the third was swallowed. The ten seconds' wait is no bound
// on speed: it only keeps a failing child from hanging the test.
func thirdSignalChild(name string) {
	sig := thirdSignals[name]
	stop, cut, release := signals()
	defer release()
	syscall.Kill(os.Getpid(), sig) //nolint:errcheck // the waits below tell
	<-stop.Done()
	syscall.Kill(os.Getpid(), sig) //nolint:errcheck // the waits below tell
	<-cut.Done()
	syscall.Kill(os.Getpid(), sig) //nolint:errcheck // death is the answer
	time.Sleep(10 * time.Second)
	os.Stderr.WriteString("the third " + name + " was swallowed\n") //nolint:errcheck // best effort
	os.Exit(3)
}
