// Package stall bounds the waits of a source's network connections: every
// read and write of a connection made by a Dialer fails once it has made no
// progress for the dialer's Idle time, so that a server (or a proxy on the
// way) that stops answering fails a read instead of hanging it forever.
// A Dialer also closes every connection it made at once, so that a source
// closes within a bound whatever its server does.
package stall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Error is a read or write that made no progress for Idle. It is a
// net.Error whose Timeout is true, which drivers treat as a timeout.
type Error struct {
	Op   string // "read" or "write"
	Idle time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: no progress for %s", e.Op, e.Idle)
}

// Timeout is true: a stall is a timeout.
func (e *Error) Timeout() bool { return true }

// Temporary is false: the connection is not worth another try.
func (e *Error) Temporary() bool { return false }

// Is makes a stall match os.ErrDeadlineExceeded, as a deadline's error does.
func (e *Error) Is(target error) bool { return target == os.ErrDeadlineExceeded }

var errClosed = errors.New("source is closed")

// Dialer makes TCP connections whose reads and writes end after Idle
// without progress, and keeps track of them until they are closed.
type Dialer struct {
	// Idle is the longest a read or a write may wait for progress.
	Idle time.Duration
	// Dial makes the underlying connection. Defaults to a net.Dialer with
	// TCP keep-alives.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	stalls atomic.Int64

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
}

// DialContext connects to addr. It fails once the dialer is closed.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 15 * time.Second}).DialContext
	}
	nc, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{Conn: nc, d: d}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		nc.Close()
		return nil, errClosed
	}
	if d.conns == nil {
		d.conns = map[*Conn]struct{}{}
	}
	d.conns[c] = struct{}{}
	if sc, ok := nc.(syscall.Conn); ok {
		return rawConn{c, sc}, nil
	}
	return c, nil
}

// Stalls counts the reads and writes that ended for want of progress, for
// drivers that report a failed read without saying why.
func (d *Dialer) Stalls() int64 { return d.stalls.Load() }

// Close closes every connection the dialer made, and refuses to make more.
// What was waiting on one of them fails at once.
func (d *Dialer) Close() {
	d.mu.Lock()
	d.closed = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// CloseAfter runs a graceful close (a pool saying goodbye to its server),
// and if it has not returned within wait, closes every connection, which
// ends what it waits for, then waits as long again at most. A source's
// Close is then bounded whatever its server does.
func (d *Dialer) CloseAfter(wait time.Duration, graceful func() error) error {
	done := make(chan error, 1)
	go func() { done <- graceful() }()
	select {
	case err := <-done:
		d.Close()
		return err
	case <-time.After(wait):
	}
	d.Close()
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		return errors.New("close: the connections did not end in time")
	}
}

// Conn is a connection whose reads and writes fail with *Error after the
// dialer's Idle time without progress. A deadline its user sets (a driver
// cancelling a call) still holds when it is sooner.
type Conn struct {
	net.Conn
	d *Dialer

	mu        sync.Mutex
	readUser  time.Time // deadlines set by the connection's user; zero: none
	writeUser time.Time
}

// Read reads, failing with *Error after Idle without data.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.arm(c.Conn.SetReadDeadline, &c.readUser); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.check(err, "read", &c.readUser)
}

// Write writes, failing with *Error after Idle without progress.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.arm(c.Conn.SetWriteDeadline, &c.writeUser); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	return n, c.check(err, "write", &c.writeUser)
}

// arm sets the connection's deadline to Idle from now, or the user's own
// if it is sooner. The lock keeps a user's deadline set meanwhile (a
// cancellation) from being overwritten.
func (c *Conn) arm(set func(time.Time) error, user *time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline := time.Now().Add(c.d.Idle)
	if !user.IsZero() && user.Before(deadline) {
		deadline = *user
	}
	return set(deadline)
}

// check turns a deadline that was the idle one into *Error; a deadline of
// the user's stays as it is.
func (c *Conn) check(err error, op string, user *time.Time) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	userDeadline := !user.IsZero() && !user.After(time.Now())
	c.mu.Unlock()
	if userDeadline {
		return err
	}
	c.d.stalls.Add(1)
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: &Error{Op: op, Idle: c.d.Idle}}
}

// SetDeadline sets the user's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readUser, c.writeUser = t, t
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the user's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readUser = t
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the user's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeUser = t
	return c.Conn.SetWriteDeadline(t)
}

// rawConn is a Conn over a connection with a file descriptor, which it
// shares for drivers that check a pooled connection is still alive (a
// non-blocking read) before they reuse it.
type rawConn struct {
	*Conn
	sc syscall.Conn
}

func (r rawConn) SyscallConn() (syscall.RawConn, error) { return r.sc.SyscallConn() }

// Close closes the connection and forgets it.
func (c *Conn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}

// ProbeTimeout bounds a probe: a short look at a server that failed a
// handshake, to say what answered instead.
const ProbeTimeout = 2 * time.Second

// Probe connects to addr over TCP with every read and write bounded by
// ProbeTimeout (and ctx), for a look at what a server says. The caller
// closes the connection.
func Probe(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
