package mysql_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sourcetest"
	"github.com/litepull/litepull/internal/testdb"
)

// TestKeyHashPerType checks, for every key type the replica maps, that
// MySQL renders the canonical text of each key exactly as the replica
// stores it: otherwise every reconciliation would look every key up. (The
// values sort alike on both sides: one range per key must hold that key.)
func TestKeyHashPerType(t *testing.T) {
	my := testdb.MySQL(t)
	cases := []struct {
		typ    string
		values []string
		hash   litepull.KeyHash
	}{
		{"TINYINT", []string{"-128", "0", "127"}, litepull.HashSQLite},
		{"INT", []string{"-2147483648", "2147483647"}, litepull.HashSQLite},
		{"BIGINT", []string{"-9223372036854775808", "9223372036854775807"}, litepull.HashSQLite},
		{"INT UNSIGNED", []string{"0", "4294967295"}, litepull.HashSQLite},
		{"BIGINT UNSIGNED", []string{"0", "9223372036854775807"}, litepull.HashMD5},
		{"BIGINT UNSIGNED", []string{"9223372036854775808", "9999999999999999999"}, litepull.HashMD5},
		{"YEAR", []string{"1901", "2155"}, litepull.HashSQLite},
		{"DECIMAL(10,2)", []string{"'-0.01'", "'1.5'"}, litepull.HashMD5},
		{"CHAR(5)", []string{"''", "'ab'", "'abcde'"}, litepull.HashMD5},
		{"VARCHAR(20)", []string{"'i3:x'", "'quote '' \"'", "'héllo 🌍 中文'"}, litepull.HashMD5},
		{"VARCHAR(20) CHARACTER SET latin1", []string{"'abc'", "'café'"}, litepull.HashMD5},
		{"ENUM('sad','happy')", []string{"'sad'", "'happy'"}, litepull.HashMD5},
		{"DATE", []string{"'0001-01-01'", "'2026-03-04'"}, litepull.HashMD5},
		{"DATETIME(6)", []string{"'2026-03-04 05:06:07'", "'2026-03-04 05:06:07.123456'"}, litepull.HashMD5},
		{"DATETIME", []string{"'1000-01-01 00:00:00'", "'2026-03-04 05:06:07'"}, litepull.HashMD5},
		{"TIMESTAMP(6)", []string{"'1970-01-01 00:00:01'", "'2026-03-04 05:06:07.000001'"}, litepull.HashMD5},
		{"TIME(6)", []string{"'00:00:00'", "'23:59:59.5'", "'838:59:59'"}, litepull.HashMD5},
		{"TIME", []string{"'01:02:03'"}, litepull.HashMD5},
		{"VARBINARY(8)", []string{"X''", "X'00FF'", "X'27'"}, litepull.HashMD5},
		{"BINARY(2)", []string{"X'0001'"}, litepull.HashMD5},
		{"DOUBLE", []string{"0.1"}, litepull.HashNone},
	}
	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN}
	for i, c := range cases {
		table := fmt.Sprintf("k%d", i)
		my.Exec(t, fmt.Sprintf("CREATE TABLE %s (k %s PRIMARY KEY, id BIGINT) CHARACTER SET utf8mb4", table, c.typ))
		var rows []string
		for j, v := range c.values {
			rows = append(rows, fmt.Sprintf("(%s, %d)", v, j))
		}
		my.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.Join(rows, ", ")))
		cfg.Tables = append(cfg.Tables, litepull.TableConfig{Table: table, CursorColumn: "id"})
	}
	my.Exec(t, "CREATE TABLE composite (a BIGINT, b VARCHAR(10), c DATETIME(6), id BIGINT, PRIMARY KEY (a, b, c)) CHARACTER SET utf8mb4")
	my.Exec(t, `INSERT INTO composite VALUES (1, 'x', '2026-01-01 00:00:00', 1), (1, 'x:y', '2026-01-01 00:00:00.000001', 2)`)
	cfg.Tables = append(cfg.Tables, litepull.TableConfig{Table: "composite", CursorColumn: "id"})

	src := (&harness{my}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	for i, c := range cases {
		t.Run(c.typ, func(t *testing.T) { sourcetest.CheckKeyHashes(t, src, r, fmt.Sprintf("k%d", i), c.hash) })
	}
	t.Run("composite", func(t *testing.T) { sourcetest.CheckKeyHashes(t, src, r, "composite", litepull.HashMD5) })
}

// TestReconcileKeepsEmptyBinaryKey: the replica reads an empty BLOB back as
// a nil []byte, which the driver sends as NULL; "k = NULL" finds nothing,
// and reconciliation deleted a row the source has.
func TestReconcileKeepsEmptyBinaryKey(t *testing.T) {
	my := testdb.MySQL(t)
	my.Exec(t, "CREATE TABLE bk (k VARBINARY(8) PRIMARY KEY, id BIGINT)")
	my.Exec(t, "INSERT INTO bk VALUES (X'', 1), (X'00', 2), (X'27', 3)")
	cfg := litepull.SourceConfig{ID: "my", Kind: "mysql", DSN: my.DSN,
		Tables: []litepull.TableConfig{{Table: "bk", CursorColumn: "id", Deletes: litepull.DeletesReconcile}}}
	src := (&harness{my}).Open(t, cfg)
	defer src.Close()
	r := sourcetest.Replicate(t, cfg, src)
	my.Exec(t, "DELETE FROM bk WHERE k = X'00'")
	c := litepull.Config{Replica: r.Path(), Sources: []litepull.SourceConfig{cfg}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: c.Sources[0], Source: src}}, nil)
	if _, err := e.Run(context.Background(), litepull.RunOptions{Reconcile: true}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := r.Query(context.Background(), "SELECT hex(k) FROM bk ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{""}, {"27"}}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("replica keys after reconciling one delete = %v, want %v", rows, want)
	}
}
