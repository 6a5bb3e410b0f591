package stall_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/litepull/litepull/internal/stall"
	"github.com/litepull/litepull/internal/stall/stalltest"
)

func dial(t *testing.T, d *stall.Dialer, addr string) net.Conn {
	t.Helper()
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(c net.Conn) error {
	_, err := c.Read(make([]byte, 1))
	return err
}

func TestConn(t *testing.T) {
	addr := stalltest.Silent(t)

	t.Run("SilenceIsAStall", func(t *testing.T) {
		c := dial(t, &stall.Dialer{Idle: 100 * time.Millisecond}, addr)
		var err error
		stalltest.Within(t, 2*time.Second, func(context.Context) { err = read(c) })
		var stalled *stall.Error
		var ne net.Error
		if !errors.As(err, &stalled) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read: %v, want a *stall.Error that is a net.Error timeout", err)
		}
	})

	t.Run("UserDeadlineIsNoStall", func(t *testing.T) {
		// A driver cancelling a call sets a deadline: it holds though the
		// idle time is far off, and is reported as the driver's own.
		d := &stall.Dialer{Idle: time.Hour}
		c := dial(t, d, addr)
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.SetDeadline(time.Now()) // cancelled while the read waits
		}()
		var err error
		stalltest.Within(t, 2*time.Second, func(context.Context) { err = read(c) })
		var stalled *stall.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &stalled) || d.Stalls() != 0 {
			t.Fatalf("read: %v (stalls %d), want the deadline's own error", err, d.Stalls())
		}
	})

	t.Run("CloseEndsEveryConnection", func(t *testing.T) {
		d := &stall.Dialer{Idle: time.Hour}
		a, b := dial(t, d, addr), dial(t, d, addr)
		errs := make(chan error, 2)
		go func() { errs <- read(a) }()
		go func() { errs <- read(b) }()
		stalltest.Within(t, 2*time.Second, func(context.Context) {
			d.Close()
			<-errs
			<-errs
		})
		if _, err := d.DialContext(context.Background(), "tcp", addr); err == nil {
			t.Fatal("dial after Close succeeded")
		}
	})

	t.Run("CloseAfterBoundsAGracefulClose", func(t *testing.T) {
		d := &stall.Dialer{Idle: time.Hour}
		c := dial(t, d, addr)
		stalltest.Within(t, 2*time.Second, func(context.Context) {
			d.CloseAfter(100*time.Millisecond, func() error { return read(c) }) // a goodbye never answered
		})
	})
}
