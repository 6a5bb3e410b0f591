package mysql

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/redact"
	"github.com/litepull/litepull/internal/stall"
)

var logger atomic.Pointer[slog.Logger]

// SetLogger sends the MySQL driver's own messages ("unexpected EOF",
// "closing bad idle connection") to l, at debug level, instead of the
// driver's default of printing them to stderr: the errors they come with
// are returned anyway. nil is slog.Default().
func SetLogger(l *slog.Logger) { logger.Store(l) }

// driverLogger is a driver.Logger for one source: it names the source and
// never prints its password.
type driverLogger struct {
	source string
	secret string
}

func (d driverLogger) Print(v ...any) {
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	msg := redact.String(strings.TrimSpace(fmt.Sprint(v...)), d.secret)
	l.Debug("mysql driver", litepull.LogKeySource, d.source, "message", msg)
}

// connector explains a failed handshake with a server that is not MySQL
// (see notMySQLError); everything else is the driver's.
// explainer says what answered when a handshake failed before the server
// said anything MySQL would.
type explainer struct {
	sqldriver.Connector
	network, addr string
}

func (c explainer) Connect(ctx context.Context) (sqldriver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil && c.network == "tcp" && errors.Is(err, driver.ErrInvalidConn) && !errors.Is(err, litepull.ErrTimeout) && ctx.Err() == nil {
		// The driver says only "invalid connection": the server closed
		// the connection, or sent nothing, before a MySQL greeting.
		is := ""
		if answersLikePostgres(ctx, c.addr) {
			is = "Postgres"
		}
		return nil, &notMySQLError{addr: c.addr, is: is, err: err}
	}
	// A Postgres server waits for the client to speak first, as a MySQL
	// client waits for the server's greeting: the connect times out. Say
	// what was there.
	if err != nil && c.network == "tcp" && errors.Is(err, litepull.ErrTimeout) && ctx.Err() == nil && answersLikePostgres(ctx, c.addr) {
		return nil, &notMySQLError{addr: c.addr, is: "Postgres", err: err}
	}
	return conn, err
}

// notMySQLError is a handshake that failed before the server said anything
// MySQL would: a DSN with another database's port, most often.
type notMySQLError struct {
	addr string // host:port reached
	is   string // what it answers as instead, if known
	err  error  // the driver's error
}

func (e *notMySQLError) Error() string {
	s := "the server at " + e.addr
	if e.is != "" {
		s += " does not speak the MySQL protocol: it answers as " + e.is
	} else {
		s += " broke off the MySQL handshake: it closed the connection, or did not answer in time"
	}
	return s + " (check the host and port in the dsn; MySQL and MariaDB listen on 3306 unless told otherwise)"
}

func (e *notMySQLError) Unwrap() error { return e.err }

// answersLikePostgres asks the server at addr for TLS as a Postgres client
// does first; a Postgres server answers one byte, S or N.
func answersLikePostgres(ctx context.Context, addr string) bool {
	c, err := stall.Probe(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil { // SSLRequest
		return false
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return false
	}
	return b[0] == 'S' || b[0] == 'N'
}
