package bench

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/source/mysql"
	"github.com/litepull/litepull/source/postgres"
)

// streamKind is what the stream phases do differently per source kind:
// Postgres streams its WAL (changes: logical), MySQL/MariaDB its binlog
// (changes: binlog).
type streamKind struct {
	name string
	// rowColumns are the columns of the single-row-commit tables.
	rowColumns string
	// settings are run by each committing client first.
	settings []string
	// arg is the placeholder of a statement's first argument.
	arg string
}

var (
	pgKind = streamKind{name: "postgres", arg: "$1",
		rowColumns: "(id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())",
		settings:   []string{asyncCommit}}
	myKind = streamKind{name: "mysql", arg: "?",
		rowColumns: "(id BIGINT PRIMARY KEY, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"}
)

// kindOf is the stream kind of a source kind: postgres or mysql.
func kindOf(kind string) (streamKind, error) {
	switch kind {
	case "postgres":
		return pgKind, nil
	case "mysql":
		return myKind, nil
	}
	return streamKind{}, fmt.Errorf("bench: unknown source kind %q: want postgres or mysql", kind)
}

// like is the column list of a table shaped like from, after CREATE TABLE t.
func (k streamKind) like(from string) string {
	if k.name == "mysql" {
		return "LIKE " + from
	}
	return "(LIKE " + from + " INCLUDING ALL)"
}

// config is a change stream of schema's tables; slot names the slot and
// publication (postgres) or picks the binlog server id (mysql).
func (k streamKind) config(dsn, schema, slot string, pageSize int, tables ...string) litepull.SourceConfig {
	cfg := litepull.SourceConfig{ID: "bench", Kind: k.name, DSN: dsn, Schema: schema, PageSize: pageSize}
	if k.name == "mysql" {
		cfg.Changes, cfg.ServerID = litepull.ChangesBinlog, litepull.DefaultServerID(slot)
	} else {
		cfg.Changes, cfg.Slot, cfg.Publication = litepull.ChangesLogical, slot, slot
	}
	for _, t := range tables {
		cfg.Tables = append(cfg.Tables, litepull.TableConfig{Table: t})
	}
	return cfg
}

// source opens the source of cfg.
func (k streamKind) source(cfg litepull.SourceConfig) (litepull.Source, error) {
	if k.name == "mysql" {
		return mysql.New(cfg)
	}
	return postgres.New(cfg)
}

// client is one connection to the source that commits.
type client interface {
	exec(ctx context.Context, q string, args ...any) (rows int64, err error)
	close(ctx context.Context)
}

type pgClient struct{ c *pgx.Conn }

func (p pgClient) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.c.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (p pgClient) close(ctx context.Context) { p.c.Close(context.WithoutCancel(ctx)) }

// myClient is a pool of one connection: session settings stay put.
type myClient struct{ db *sql.DB }

func (m myClient) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := m.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (m myClient) close(context.Context) { m.db.Close() }

// connect opens a client on dsn that ran settings.
func (k streamKind) connect(ctx context.Context, dsn string, settings ...string) (client, error) {
	var c client
	if k.name == "mysql" {
		db, err := mysqlAdmin(dsn)
		if err != nil {
			return nil, err
		}
		c = myClient{db}
	} else {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, err
		}
		c = pgClient{conn}
	}
	for _, q := range settings {
		if _, err := c.exec(ctx, q); err != nil {
			c.close(ctx)
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return c, nil
}

// execAll runs statements in turn on one connection.
func (k streamKind) execAll(ctx context.Context, dsn string, qs ...string) error {
	c, err := k.connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	for _, q := range qs {
		if _, err := c.exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
