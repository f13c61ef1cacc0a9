//go:build !linux

package http

import "net"

// ackedBytes is unknown off Linux: a subscription is then cut after one
// write blocked for the stall timeout.
func ackedBytes(net.Conn) func() (uint64, bool) { return nil }

// tryWriter is not used off Linux: subscriptions write the usual way.
func tryWriter(net.Conn) func(bufs [][]byte) (int, error) { return nil }

// queuedBytes is unknown off Linux: a subscription is judged only in a
// blocked write.
func queuedBytes(net.Conn) func() (int, bool) { return nil }
