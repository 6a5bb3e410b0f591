package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"time"
)

// querier runs statements: the source's pool, or a snapshot's one
// connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pinnedConn is a snapshot's connection, inside its transaction: its
// reader's statements take turns on it, one at a time (a second statement
// while rows of the first are open would break the protocol).
type pinnedConn struct {
	conn *sql.Conn
	turn chan struct{}
}

func newPinned(conn *sql.Conn) *pinnedConn {
	return &pinnedConn{conn: conn, turn: make(chan struct{}, 1)}
}

// conn returns what the next statement runs on, and its release, to be
// called once the statement's rows are closed. A function that holds a
// querier must not ask for another: a snapshot has one connection.
func (s *Source) conn(ctx context.Context) (querier, func(), error) {
	p := s.pinned
	if p == nil {
		return s.db, func() {}, nil
	}
	select {
	case p.turn <- struct{}{}:
		return p.conn, func() { <-p.turn }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// pinnedTo returns a reader of the source whose statements all run on p.
// It owns nothing: Close on it does nothing, p's owner closes p.
func (s *Source) pinnedTo(p *pinnedConn) *Source {
	c := *s
	c.pinned = p
	return &c
}

// end rolls the connection's transaction back and gives the connection
// back to the pool; a connection that cannot roll back (a statement still
// runs on it after closeWait, or it broke) is closed instead.
func (p *pinnedConn) end() error {
	select {
	case p.turn <- struct{}{}:
		defer func() { <-p.turn }()
	case <-time.After(closeWait):
		return p.discard(errors.New("a statement still ran on the snapshot's connection"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if _, err := p.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return p.discard(err)
	}
	return p.conn.Close()
}

// discard closes the connection for good, instead of giving it back to
// the pool.
func (p *pinnedConn) discard(why error) error {
	_ = p.conn.Raw(func(any) error { return sqldriver.ErrBadConn }) // marks it bad: Close then closes it
	return errors.Join(why, p.conn.Close())
}

// queryRow runs a statement that returns one row and scans it into dest.
func (s *Source) queryRow(ctx context.Context, dest []any, query string, args ...any) error {
	q, release, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer release()
	return q.QueryRowContext(ctx, query, args...).Scan(dest...)
}
