package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/litepull/litepull/internal/stall"
)

// notPostgresError is a connection to a server that does not speak the
// Postgres protocol: a DSN with another database's port, most often.
type notPostgresError struct {
	Addr string // host:port reached
	Is   string // what it seems to be instead, if known: "MySQL or MariaDB"
	Err  error  // the driver's error
}

func (e *notPostgresError) Error() string {
	s := "the server at " + e.Addr + " does not speak the Postgres protocol"
	if e.Is != "" {
		s += ": it greets like " + e.Is
	}
	return s + " (check the host and port in the dsn; Postgres listens on 5432 unless told otherwise)"
}

func (e *notPostgresError) Unwrap() error { return e.Err }

// explainConnect turns a failed handshake with a server that is not
// Postgres into a notPostgresError; other errors are returned as they are.
// pgconn says only "received unexpected message" or "unknown message type"
// (which byte it names depends on the length of the server's greeting), or,
// asking for TLS, that the server refused it; so the server is looked at
// once more: a MySQL server greets first, unasked.
func explainConnect(ctx context.Context, err error) error {
	var ce *pgconn.ConnectError
	var pgErr *pgconn.PgError
	if !errors.As(err, &ce) || ce.Config == nil || errors.As(err, &pgErr) || strings.HasPrefix(ce.Config.Host, "/") {
		return err // a Postgres server answered, or not a handshake at all
	}
	msg := err.Error()
	unexpected := strings.Contains(msg, "received unexpected message") || strings.Contains(msg, "unknown message type")
	if !unexpected && !strings.Contains(msg, "server refused TLS connection") {
		return err
	}
	addr := net.JoinHostPort(ce.Config.Host, strconv.Itoa(int(ce.Config.Port)))
	if greetsLikeMySQL(ctx, addr) {
		return &notPostgresError{Addr: addr, Is: "MySQL or MariaDB", Err: err}
	}
	if unexpected {
		return &notPostgresError{Addr: addr, Err: err}
	}
	return err // a Postgres server without TLS
}

// greetsLikeMySQL connects to addr and reports whether the server sends a
// MySQL greeting unasked: a packet header (3 bytes of length, sequence 0),
// then protocol version 10, or an error packet (0xff).
func greetsLikeMySQL(ctx context.Context, addr string) bool {
	c, err := stall.Probe(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	var h [5]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return false
	}
	return h[3] == 0 && (h[4] == 10 || h[4] == 0xff)
}
