package http

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// ackedBytes returns a func that reports how many bytes the peer of c has
// acknowledged (TCP_INFO's tcpi_bytes_acked), or nil if c is not a socket.
func ackedBytes(c net.Conn) func() (uint64, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() (uint64, bool) {
		var n uint64
		var ok bool
		raw.Control(func(fd uintptr) { //nolint:errcheck // a closed socket reports no progress
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				n, ok = info.Bytes_acked, true
			}
		})
		return n, ok
	}
}
