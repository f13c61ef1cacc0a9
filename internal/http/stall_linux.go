package http

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// ackedBytes returns a func that reports how many bytes the peer of c has
// acknowledged (TCP_INFO's tcpi_bytes_acked), or nil if c is not a socket.
func ackedBytes(c net.Conn) func() (uint64, bool) {
	raw := rawConn(c)
	if raw == nil {
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

// queuedBytes returns a func that reports how many bytes written to c its
// socket still holds, not sent or not acknowledged (SIOCOUTQ), or nil if c
// is not a socket.
func queuedBytes(c net.Conn) func() (int, bool) {
	raw := rawConn(c)
	if raw == nil {
		return nil
	}
	return func() (int, bool) {
		var n int
		var ok bool
		raw.Control(func(fd uintptr) { //nolint:errcheck // a closed socket reports nothing
			if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
				n, ok = v, true
			}
		})
		return n, ok
	}
}

// tryWriter returns a func that makes one non-blocking attempt to write
// bufs to c and reports how much it wrote, or nil if c is not a socket.
// A full socket buffer is not an error: the caller writes the rest the usual
// way, which waits. A connection's writes come one at a time.
func tryWriter(c net.Conn) func(bufs [][]byte) (int, error) {
	raw := rawConn(c)
	if raw == nil {
		return nil
	}
	t := &socketTry{raw: raw}
	t.writev = t.write
	return t.try
}

// socketTry is one connection's attempts. What an attempt needs lives here,
// and the func it hands to the socket is made once: a closure made at each
// attempt, and the results it set, were three allocations a live write.
type socketTry struct {
	raw    syscall.RawConn
	writev func(fd uintptr) bool // t.write
	bufs   [][]byte
	n      int
	err    error
}

func (t *socketTry) try(bufs [][]byte) (int, error) {
	t.bufs = bufs
	// Returning true makes one attempt: the socket is non-blocking, and
	// Write does not wait for room. It still honours the deadline.
	err := t.raw.Write(t.writev)
	n, werr := t.n, t.err
	t.bufs, t.n, t.err = nil, 0, nil // keep no caller's buffers
	if err != nil {
		return 0, err
	}
	if werr == unix.EAGAIN || werr == unix.EINTR {
		return 0, nil
	}
	return max(n, 0), werr
}

func (t *socketTry) write(fd uintptr) bool {
	t.n, t.err = unix.Writev(int(fd), t.bufs)
	return true
}

// rawConn returns c's file descriptor access, or nil if c is not a socket.
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
