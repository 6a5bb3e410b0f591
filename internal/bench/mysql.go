package bench

import (
	"context"
	"database/sql"
	"fmt"

	driver "github.com/go-sql-driver/mysql"
)

// PrepareMySQL creates db.bench with n rows in MySQL/MariaDB (the same rows
// as the Postgres table), unless it already has them. dsn names no database;
// db is created.
func PrepareMySQL(ctx context.Context, dsn, db string, n int) error {
	conn, err := mysqlAdmin(dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	var have int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db+"."+Table).Scan(&have); err == nil && have == n {
		return nil
	}
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + db + " CHARACTER SET utf8mb4",
		"DROP TABLE IF EXISTS " + db + "." + Table,
		"DROP TABLE IF EXISTS " + db + ".digits",
		"CREATE TABLE " + db + "." + Table + ` (id BIGINT PRIMARY KEY, created_at TIMESTAMP(6) NOT NULL, qty INT,
			name TEXT, amount DECIMAL(12,2), attrs JSON, note TEXT, KEY cursor_pk (created_at, id))`,
		"CREATE TABLE " + db + ".digits (n INT)",
		"INSERT INTO " + db + ".digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)",
		"SET SESSION time_zone = '+00:00'",
		fmt.Sprintf(`INSERT INTO %[1]s.%[2]s
			SELECT g, TIMESTAMP('2026-01-01') + INTERVAL g * 1000 MICROSECOND, g %% 1000, CONCAT('name-', g),
			       (g %% 100000) / 100, JSON_OBJECT('k', g %% 10, 'tag', CONCAT('x', g %% 7)), MD5(g)
			FROM (SELECT 1 + a.n + 10*b.n + 100*c.n + 1000*d.n + 10000*e.n + 100000*f.n + 1000000*h.n AS g
			      FROM %[1]s.digits a, %[1]s.digits b, %[1]s.digits c, %[1]s.digits d, %[1]s.digits e, %[1]s.digits f, %[1]s.digits h) AS s
			WHERE g <= %[3]d`, db, Table, n),
		"ANALYZE TABLE " + db + "." + Table,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("prepare benchmark table: %w", err)
		}
	}
	return nil
}

// DropMySQL removes the benchmark database.
func DropMySQL(ctx context.Context, dsn, db string) error {
	conn, err := mysqlAdmin(dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+db)
	return err
}

// mysqlAdmin opens a one-connection pool on the server, no database chosen.
func mysqlAdmin(dsn string) (*sql.DB, error) {
	c, err := driver.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	c.DBName = ""
	conn, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1) // session settings stay put
	return conn, nil
}
