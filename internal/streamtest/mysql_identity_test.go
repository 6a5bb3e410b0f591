package streamtest_test

import (
	"context"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
)

const myTypesTable = `CREATE TABLE types (
	id BIGINT PRIMARY KEY,
	ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, i INT, bi BIGINT, bu BIGINT UNSIGNED,
	yr YEAR, b1 BIT(1), b64 BIT(64),
	f FLOAT, d DOUBLE, dec1 DECIMAL(65,30), dec2 DECIMAL(10,0),
	dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL, dd DATE, tm TIME(2),
	c CHAR(5), vc VARCHAR(50), tx TEXT, l1 VARCHAR(20) CHARACTER SET latin1,
	bn BINARY(4), vb VARBINARY(10), bl BLOB,
	j JSON, e ENUM('a','b','c d'), st SET('x','y','z'),
	updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))`

var myTypeRows = []string{
	`(%d, -128, 255, -32768, 16777215, -2147483648, -9223372036854775808, 18446744073709551615,
	 2024, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
	 0.1, 0.1, '-12345678901234567890123456789012345.123456789012345678901234567890', 42,
	 '2024-02-29 23:59:59', '1000-01-01 00:00:00.000001', '2038-01-19 03:14:07.999', '9999-12-31', '-838:59:59.99',
	 'ab', 'héllo 🌍', REPEAT('x', 3000), 'caf\xe9',
	 'a\0', 'b\0\0', x'00ff00',
	 '{"b": 1, "a": [1, 2]}', 'c d', 'x,z', '2024-01-01 00:00:00')`,
	`(%d, 0, 0, 0, 0, 0, 0, 9223372036854775808,
	 1901, b'0', b'0', -0, 1e308, '0.000000000000000000000000000001', -1,
	 '0000-00-00 00:00:00', '2000-01-01 00:00:00', NULL, '0000-00-00', '00:00:00',
	 '', '', '', '',
	 '', '', '',
	 'null', 'a', '', '2024-01-01 00:00:00')`,
	`(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-01 00:00:00')`,
}

// TestMySQLPollingAndBinlogAgree replicates one MariaDB table twice into
// one replica, by cursor and by the binlog, and requires the same values
// (type and bytes) in both, for rows copied and rows streamed.
func TestMySQLPollingAndBinlogAgree(t *testing.T) {
	my := testdb.MySQL(t)
	exec := func(q string) {
		t.Helper()
		if _, err := my.DB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("SET SESSION sql_mode = 'ALLOW_INVALID_DATES', time_zone = '+03:00'")
	exec(myTypesTable)
	insert := func(first int) {
		for i, row := range myTypeRows {
			exec("INSERT INTO types VALUES " + sprintf(row, first+i))
		}
	}
	insert(1)
	poll := litepull.SourceConfig{ID: "poll", Kind: "mysql", DSN: my.DSN,
		Tables: []litepull.TableConfig{{Table: "types", Dest: "types_poll", CursorColumn: "updated_at"}}}
	binlog := myStreamConfig(t, my, "binlog", litepull.TableConfig{Table: "types", Dest: "types_binlog"})
	file := replicaFile(t)
	e, _ := engine(t, file, poll, binlog)
	drain(t, e)

	insert(101) // these reach types_binlog through the binlog
	exec("UPDATE types SET vc = 'changed' WHERE id IN (2, 102)")
	exec("UPDATE types SET id = id + 1000 WHERE id = 103")
	exec("DELETE FROM types WHERE id = 3")
	sum := drain(t, e)
	for _, r := range sum.Tables {
		if r.SourceID == "binlog" && r.RowsPulled == 0 {
			t.Fatalf("the binlog applied nothing: %+v", r)
		}
	}
	// Polling sees no deletes: bring the polled copy level by a full copy.
	if s, err := e.Run(context.Background(), litepull.RunOptions{SourceID: "poll", Full: true, Drain: true}); err != nil || s.Failed() > 0 {
		t.Fatalf("full copy: %v %+v", err, s)
	}
	compareTables(t, file, "types_poll", "types_binlog")
}
