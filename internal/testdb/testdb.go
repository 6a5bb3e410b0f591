// Package testdb gives integration tests a real database of their own: a
// uniquely named Postgres schema (or MySQL database) that is dropped when the
// test ends. Without a server the test is skipped loudly, unless
// LITEPULL_REQUIRE_SERVICES=1 (as in CI), where it fails.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireServices reports whether a missing server is a failure.
func RequireServices() bool { return os.Getenv("LITEPULL_REQUIRE_SERVICES") == "1" }

// Unavailable skips or fails tb because a server is missing.
func Unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("!!! %s IS NOT AVAILABLE: %v — integration test NOT RUN (set LITEPULL_REQUIRE_SERVICES=1 to make this a failure)", what, err)
	if RequireServices() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// UniqueName returns prefix followed by random hex: a fresh schema or table name.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var (
	pgOnce sync.Once
	pgBase string
	pgErr  error
)

// postgresBase finds a DSN that connects: $LITEPULL_PG_DSN, else the local
// server as postgres, else as root.
func postgresBase() (string, error) {
	pgOnce.Do(func() {
		candidates := []string{
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
			"postgres://root@127.0.0.1:5432/test?sslmode=disable",
		}
		if env := os.Getenv("LITEPULL_PG_DSN"); env != "" {
			candidates = []string{env}
		}
		for _, dsn := range candidates {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn, err := pgx.Connect(ctx, dsn)
			cancel()
			if err == nil {
				conn.Close(context.Background())
				pgBase = dsn
				pgErr = nil
				return
			}
			pgErr = err
		}
	})
	return pgBase, pgErr
}

// PG is a test's own Postgres schema.
type PG struct {
	DSN    string    // connects to the test database
	Schema string    // the test's schema, dropped at cleanup
	Conn   *pgx.Conn // an admin connection with search_path set to Schema
}

// Postgres creates a fresh schema for tb.
func Postgres(tb testing.TB) *PG {
	tb.Helper()
	dsn, err := postgresBase()
	if err != nil {
		Unavailable(tb, "POSTGRES (127.0.0.1:5432)", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		Unavailable(tb, "POSTGRES (127.0.0.1:5432)", err)
	}
	schema := UniqueName("lptest_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	if _, err := conn.Exec(ctx, "SET search_path TO "+schema); err != nil {
		tb.Fatalf("set search_path: %v", err)
	}
	tb.Cleanup(func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	return &PG{DSN: dsn, Schema: schema, Conn: conn}
}

// Exec runs statements, failing tb on error.
func (p *PG) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := p.Conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("postgres: %s: %v", sql, err)
	}
}

// Strings runs a query of one text column and returns its values,
// failing tb on error.
func (p *PG) Strings(tb testing.TB, q string) []string {
	tb.Helper()
	rows, err := p.Conn.Query(context.Background(), q)
	if err != nil {
		tb.Fatalf("postgres: %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatalf("postgres: %s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("postgres: %s: %v", q, err)
	}
	return out
}
