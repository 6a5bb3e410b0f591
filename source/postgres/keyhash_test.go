package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
)

// TestKeyHashPerType checks, for every key type the replica maps, that
// Postgres renders the canonical text of each key exactly as the replica
// stores it: otherwise every reconciliation would look every key up. (The
// values sort alike on both sides: one range per key must hold that key.)
func TestKeyHashPerType(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TYPE mood AS ENUM ('sad', 'happy')")
	pg.Exec(t, "CREATE DOMAIN code AS text")
	cases := []struct {
		typ    string
		values []string
		hash   litepull.KeyHash
	}{
		{"smallint", []string{"-32768", "0", "32767"}, litepull.HashSQLite},
		{"integer", []string{"-2147483648", "2147483647"}, litepull.HashSQLite},
		{"bigint", []string{"-9223372036854775808", "0", "9223372036854775807"}, litepull.HashSQLite},
		{"oid", []string{"0", "4294967295"}, litepull.HashSQLite},
		{"boolean", []string{"true", "false"}, litepull.HashSQLite},
		{"text", []string{"''", "'a'", "'héllo 🌍 中文'", `'quote '' and "'`, "E'tab\\there'", "'i3:x'"}, litepull.HashMD5},
		{"varchar(20)", []string{"'x'", "'ten chars!'"}, litepull.HashMD5},
		{"char(5)", []string{"'ab'", "''", "'abcde'"}, litepull.HashMD5},
		{`"char"`, []string{"'a'", "'Z'"}, litepull.HashMD5},
		{"name", []string{"'abc'"}, litepull.HashMD5},
		{"code", []string{"'X-1'"}, litepull.HashMD5},
		{"numeric", []string{"'1.10'", "'-0.0000000001'", "'NaN'", "'123456789012345678901234567890'"}, litepull.HashMD5},
		{"numeric(10,2)", []string{"'1.5'", "'-7'"}, litepull.HashMD5},
		{"uuid", []string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"}, litepull.HashMD5},
		{"date", []string{"'2026-03-04'", "'infinity'", "'-infinity'", "'0001-01-01'"}, litepull.HashMD5},
		{"timestamp", []string{"'2026-03-04 05:06:07.123456'", "'infinity'", "'0001-01-01 00:00:00'", "'1969-12-31 23:59:59.5'"}, litepull.HashMD5},
		{"timestamptz", []string{"'2026-03-04 05:06:07.123456+02'", "'-infinity'", "'9999-12-31 23:59:59.999999+00'", "'1900-02-28 15:30:00-08'"}, litepull.HashMD5},
		{"time", []string{"'23:59:59.999999'", "'00:00:00'", "'24:00:00'"}, litepull.HashMD5},
		{"timetz", []string{"'12:34:56+02'"}, litepull.HashMD5},
		{"bytea", []string{`'\x'`, `'\x00ff'`, `'\x27'`}, litepull.HashMD5},
		{"jsonb", []string{`'{"b": 1,  "a": [1,2]}'`, "'[]'"}, litepull.HashMD5},
		{"interval", []string{"'1 day 02:03:04.5'", "'-1 mons'"}, litepull.HashMD5},
		{"inet", []string{"'10.0.0.1'", "'::1'"}, litepull.HashMD5},
		{"mood", []string{"'happy'"}, litepull.HashMD5},
		{"real", []string{"0.1"}, litepull.HashNone},
		{"double precision", []string{"0.1"}, litepull.HashNone},
	}
	cfg := litepull.SourceConfig{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema}
	for i, c := range cases {
		table := fmt.Sprintf("k%d", i)
		pg.Exec(t, fmt.Sprintf("CREATE TABLE %s (k %s PRIMARY KEY, id bigint)", table, c.typ))
		var rows []string
		for j, v := range c.values {
			rows = append(rows, fmt.Sprintf("(%s, %d)", v, j))
		}
		pg.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.Join(rows, ", ")))
		cfg.Tables = append(cfg.Tables, litepull.TableConfig{Table: table, CursorColumn: "id"})
	}
	pg.Exec(t, "CREATE TABLE composite (a bigint, b text, c timestamptz, d uuid, id bigint, PRIMARY KEY (a, b, c, d))")
	pg.Exec(t, `INSERT INTO composite VALUES (1, 'x', '2026-01-01 00:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
		(1, 'x:y', '2026-01-01 00:00:00.000001+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 2)`)
	cfg.Tables = append(cfg.Tables, litepull.TableConfig{Table: "composite", CursorColumn: "id"})

	src := (&harness{pg}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	for i, c := range cases {
		t.Run(c.typ, func(t *testing.T) { sourcetest.CheckKeyHashes(t, src, r, fmt.Sprintf("k%d", i), c.hash) })
	}
	t.Run("composite", func(t *testing.T) { sourcetest.CheckKeyHashes(t, src, r, "composite", litepull.HashMD5) })
}
