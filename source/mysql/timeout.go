package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/stall"
)

// closeWait is how long Close lets the pool say goodbye before it closes
// the connections itself.
const closeWait = time.Second

// errConnectTimeout is the cause of a connection's context that ran out.
var errConnectTimeout = errors.New("connect timeout")

// connector bounds the making of a connection (TCP, TLS, the handshake the
// server may never send, authentication) by the connect timeout: the
// driver's own timeout covers the TCP connect only.
type connector struct {
	driver.Connector
	timeout time.Duration
	addr    string
	dialer  *stall.Dialer
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errConnectTimeout)
	defer cancel()
	mark := c.dialer.Stalls()
	conn, err := c.Connector.Connect(cctx)
	if err == nil || ctx.Err() != nil {
		return conn, err
	}
	switch {
	case context.Cause(cctx) == errConnectTimeout:
		return nil, &litepull.TimeoutError{Op: litepull.OpConnect, After: c.timeout, Addr: c.addr}
	case c.dialer.Stalls() != mark: // the handshake stalled before the connect timeout
		return nil, &litepull.TimeoutError{Op: litepull.OpConnect, After: c.dialer.Idle, Addr: c.addr}
	}
	return nil, err
}

// watch is deferred by every call that reaches the server, as
// defer s.watch(ctx, &err)(): a read or write that stalled on one of the
// source's connections becomes *litepull.TimeoutError. The driver reports a
// connection that failed as "invalid connection" whatever the reason, so
// the dialer's count of stalls tells a stall apart.
func (s *Source) watch(ctx context.Context, err *error) func() {
	mark := s.dialer.Stalls()
	return func() {
		if *err == nil || ctx.Err() != nil || errors.Is(*err, litepull.ErrTimeout) {
			return
		}
		var stalled *stall.Error
		if errors.As(*err, &stalled) ||
			(s.dialer.Stalls() != mark && (errors.Is(*err, mysqldriver.ErrInvalidConn) || errors.Is(*err, driver.ErrBadConn))) {
			*err = &litepull.TimeoutError{Op: litepull.OpRead, After: s.dialer.Idle}
		}
	}
}
