// Package bench measures litepull's load speed against SQLite's own write
// ceiling, in one run on one machine, so the two can be compared as a ratio.
package bench

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/mysql"
	"github.com/litepull/litepull/source/postgres"
)

// Table is the benchmark table: a bigint key, a timestamptz cursor, an int,
// text, numeric, jsonb and more text.
const Table = "bench"

// Columns as the replica stores them.
var columns = []litepull.Column{
	{Name: "id", SourceType: "bigint", Affinity: litepull.AffInteger},
	{Name: "created_at", SourceType: "timestamp with time zone", Affinity: litepull.AffText, Temporal: true},
	{Name: "qty", SourceType: "integer", Affinity: litepull.AffInteger},
	{Name: "name", SourceType: "text", Affinity: litepull.AffText},
	{Name: "amount", SourceType: "numeric(12,2)", Affinity: litepull.AffText},
	{Name: "attrs", SourceType: "jsonb", Affinity: litepull.AffText},
	{Name: "note", SourceType: "text", Affinity: litepull.AffText},
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Prepare creates schema.bench with n rows in Postgres, unless it already
// has them.
func Prepare(ctx context.Context, dsn, schema string, n int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var have int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+"."+Table).Scan(&have); err == nil && have == n {
		return nil
	}
	for _, q := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		"DROP TABLE IF EXISTS " + schema + "." + Table,
		"CREATE TABLE " + schema + "." + Table + ` (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, qty integer,
			name text, amount numeric(12,2), attrs jsonb, note text)`,
		fmt.Sprintf(`INSERT INTO %s.%s SELECT g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 millisecond', g %% 1000,
			'name-' || g, (g %% 100000) / 100.0, jsonb_build_object('k', g %% 10, 'tag', 'x' || (g %% 7)), md5(g::text)
			FROM generate_series(1, %d) AS g`, schema, Table, n),
		"CREATE INDEX ON " + schema + "." + Table + " (created_at, id)",
		"ANALYZE " + schema + "." + Table,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("prepare benchmark table: %w", err)
		}
	}
	return nil
}

// execPG runs one statement on its own connection.
func execPG(ctx context.Context, dsn, q string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, q)
	return err
}

// Drop removes the benchmark schema.
func Drop(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	return err
}

// row generates, in memory, exactly the row Postgres holds for id g.
func row(g int64) []litepull.Value {
	sum := md5.Sum([]byte(strconv.FormatInt(g, 10)))
	m := g % 100000
	return []litepull.Value{
		g,
		base.Add(time.Duration(g) * time.Millisecond).Format(litepull.LayoutTimestampTZ),
		g % 1000,
		"name-" + strconv.FormatInt(g, 10),
		fmt.Sprintf("%d.%02d", m/100, m%100),
		fmt.Sprintf(`{"k": %d, "tag": "x%d"}`, g%10, g%7),
		hex.EncodeToString(sum[:]),
	}
}

// Result is one measured phase.
type Result struct {
	Rows     int64
	Duration time.Duration
	// Setup is the part of Duration before the first page was in, when
	// measured.
	Setup time.Duration `json:",omitempty"`
}

// RowsPerSec is the phase's throughput.
func (r Result) RowsPerSec() float64 { return float64(r.Rows) / r.Duration.Seconds() }

// CopyRowsPerSec is the throughput after the setup.
func (r Result) CopyRowsPerSec() float64 { return float64(r.Rows) / (r.Duration - r.Setup).Seconds() }

func freshReplica(dir string) (*replica.Replica, error) {
	path := filepath.Join(dir, "bench-replica.db")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	return replica.Open(path)
}

// Ceiling writes n generated rows through the replica's own page commit —
// same pragmas, same upsert, same page size — timing only the commits. It
// is the fastest litepull could possibly load.
func Ceiling(ctx context.Context, dir string, n, pageSize int) (Result, error) {
	r, err := freshReplica(dir)
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	t := &litepull.Target{SourceID: "bench", SourceTable: Table, Dest: Table, Columns: columns, PrimaryKey: []string{"id"}}
	if err := r.EnsureTable(ctx, t); err != nil {
		return Result{}, err
	}
	var spent time.Duration
	page := make([][]litepull.Value, 0, pageSize)
	st := litepull.State{SourceID: "bench", Table: Table, CursorColumn: "created_at", Dest: Table}
	for g := int64(1); g <= int64(n); {
		page = page[:0]
		for ; len(page) < pageSize && g <= int64(n); g++ {
			page = append(page, row(g))
		}
		last := page[len(page)-1]
		st.Watermark = &litepull.Watermark{Cursor: last[1], PK: []litepull.Value{last[0]}}
		st.CursorValue = last[1].(string)
		st.RowsTotal += int64(len(page))
		start := time.Now()
		if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: t, Upserts: page}}, States: []litepull.State{st}}); err != nil {
			return Result{}, err
		}
		spent += time.Since(start)
	}
	return Result{Rows: int64(n), Duration: spent}, nil
}

// Replicate loads schema.bench from a Postgres or MySQL source (kind) into
// a fresh replica with the engine (drain), timing the whole run: reads,
// decoding, writes; and apart its setup, until the first page is in.
func Replicate(ctx context.Context, dir, kind, dsn, schema string, pageSize int) (Result, error) {
	r, err := freshReplica(dir)
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	cfg := litepull.SourceConfig{ID: "bench", Kind: kind, DSN: dsn, Schema: schema, PageSize: pageSize,
		Tables: []litepull.TableConfig{{Table: Table, CursorColumn: "created_at"}}}
	var src litepull.Source
	switch kind {
	case "postgres":
		src, err = postgres.New(cfg)
	case "mysql":
		src, err = mysql.New(cfg)
	default:
		err = fmt.Errorf("bench: unknown source kind %q", kind)
	}
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
	progress, first := firstPage()
	start := time.Now()
	sum, err := e.Run(ctx, litepull.RunOptions{Drain: true, Progress: progress})
	if err != nil {
		return Result{}, err
	}
	if sum.Failed() > 0 {
		return Result{}, sum.Tables[0].Err
	}
	return Result{Rows: sum.RowsPulled(), Duration: time.Since(start), Setup: first.Sub(start)}, nil
}

// firstPage is a progress callback that notes when the first page is in.
func firstPage() (func(litepull.Progress), *time.Time) {
	var first time.Time
	return func(litepull.Progress) {
		if first.IsZero() {
			first = time.Now()
		}
	}, &first
}
