package testdb

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// MySQLBase is the admin DSN of the local MariaDB/MySQL: $LITEPULL_MYSQL_DSN,
// else root with an empty password at 127.0.0.1:3306.
func MySQLBase() string {
	if env := os.Getenv("LITEPULL_MYSQL_DSN"); env != "" {
		return env
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// My is a test's own MySQL database.
type My struct {
	DSN      string  // driver-form DSN of the test database
	Database string  // its name, dropped at cleanup
	DB       *sql.DB // an admin pool on that database
}

// MySQL creates a fresh database for tb.
func MySQL(tb testing.TB) *My {
	tb.Helper()
	base, err := driver.ParseDSN(MySQLBase())
	if err != nil {
		tb.Fatalf("LITEPULL_MYSQL_DSN: %v", err)
	}
	admin, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		Unavailable(tb, "MYSQL/MARIADB (127.0.0.1:3306)", err)
	}
	name := UniqueName("lptest_")
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	admin.Close()
	base.DBName = name
	base.MultiStatements = true
	db, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1) // session settings stay put
	tb.Cleanup(func() {
		db.Exec("DROP DATABASE " + name)
		db.Close()
	})
	base.MultiStatements = false
	return &My{DSN: base.FormatDSN(), Database: name, DB: db}
}

// Exec runs a statement, failing tb on error.
func (m *My) Exec(tb testing.TB, q string, args ...any) {
	tb.Helper()
	if _, err := m.DB.Exec(q, args...); err != nil {
		tb.Fatalf("mysql: %s: %v", q, err)
	}
}
