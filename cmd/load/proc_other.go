//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// errUnsupported: server memory and CPU are read from Linux's /proc.
var errUnsupported = errors.New("reading another process's memory and CPU time is only implemented for Linux")

func childProcAttr() *syscall.SysProcAttr { return nil }

func raiseFileLimit(want uint64) error { return nil }

func residentKiB(pid int) (int64, error) { return 0, errUnsupported }

func cpuTime(pid int) (time.Duration, error) { return 0, errUnsupported }

func machineBusy() (time.Duration, error) { return 0, errUnsupported }
