package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/sqlitex"
)

// The demo's source schema: ties on the cursor, a composite key, mixed
// types, and a row whose cursor is NULL.
const demoSchema = `
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, balance NUMERIC, active BOOLEAN, updated_at TIMESTAMP);
CREATE TABLE order_lines (order_id INTEGER, line INTEGER, sku TEXT, qty INTEGER, price REAL, note TEXT, updated_at TIMESTAMP,
  PRIMARY KEY (order_id, line));
CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT, raw BLOB, score REAL);
CREATE TABLE scratch (note TEXT); -- no primary key: discovery would skip it
`

const demoPageSize = 500

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", "", "put the demo's source.db and replica.db in this `directory`, and keep them (default: a new temporary directory, removed at the end)")
	keep := fs.Bool("keep", false, "keep the temporary directory, to look inside the replica afterwards")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kept := true // a -dir of the user's is theirs: never removed
	if *dir == "" {
		d, err := os.MkdirTemp("", "litepull-demo-")
		if err != nil {
			return err
		}
		*dir, kept = d, *keep
		if !kept {
			defer os.RemoveAll(d) // deferred first: runs after the replica is closed and unlocked
		}
	}
	srcPath, replicaPath := filepath.Join(*dir, "source.db"), filepath.Join(*dir, "replica.db")
	unlock, err := lockReplica(ctx, replicaPath, &writer{command: "litepull demo"})
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkDemoDir(srcPath, replicaPath); err != nil {
		return err
	}
	for _, p := range []string{srcPath, replicaPath, replicaPath + "-wal", replicaPath + "-shm"} {
		os.Remove(p)
	}
	src, err := sqlite3.Open(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := src.Exec(fmt.Sprintf("PRAGMA application_id = %d", demoSourceID)); err != nil {
		return err
	}
	if err := src.Exec(demoSchema); err != nil {
		return err
	}
	if err := seedDemo(src, rng, base); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "source:  %s (users 2000 rows, order_lines 1500 rows incl. 1 with a NULL cursor, events 1000 rows)\nreplica: %s\n\n", srcPath, replicaPath)

	cfg := &litepull.Config{Replica: replicaPath, Sources: []litepull.SourceConfig{{
		ID: "demo", Kind: "sqlite", DSN: srcPath, PageSize: demoPageSize,
		Tables: []litepull.TableConfig{
			{Table: "users", CursorColumn: "updated_at"},
			{Table: "order_lines", Dest: "order_lines_replica", CursorColumn: "updated_at",
				Columns: []string{"order_id", "line", "sku", "qty", "price"}},
			{Table: "events", CursorColumn: "id"},
		},
	}}}
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := openConfig(ctx, cfg, newLogger(io.Discard, false), nil) // the demo prints what matters itself; its lock is taken above
	if err != nil {
		return err
	}
	defer a.Close()

	fmt.Fprintln(stdout, "== first replication: one page per table per tick ==")
	if err := demoTicks(ctx, a, stdout); err != nil {
		return err
	}
	changed, err := mutateDemo(src, rng, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n== source changed: %s ==\n", changed)
	if err := demoTicks(ctx, a, stdout); err != nil {
		return err
	}

	if err := checkDemo(ctx, src, a, cfg, stdout, false); err != nil {
		return err
	}

	// What a cursor cannot see: deleted rows and NULL cursors.
	if err := sqlitex.Exec(src, "DELETE FROM users WHERE id % 100 = 0"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n== source deleted %d users; a cursor never sees deletes ==\n", src.Changes())
	sum, err := a.engine.Run(ctx, litepull.RunOptions{Table: "users", Reconcile: true})
	if err != nil || sum.Failed() > 0 {
		return fmt.Errorf("reconcile users: %v %v", err, sum)
	}
	fmt.Fprintf(stdout, "reconcile users: compared key-range counts with the source, deleted %d rows\n", sum.Tables[0].RowsDeleted)
	sum, err = a.engine.Run(ctx, litepull.RunOptions{Table: "order_lines", Full: true})
	if err != nil || sum.Failed() > 0 {
		return fmt.Errorf("full refresh of order_lines: %v %v", err, sum)
	}
	fmt.Fprintf(stdout, "full refresh order_lines: copied %d rows into a shadow table and swapped it in (the NULL-cursor row included)\n", sum.Tables[0].RowsPulled)
	if err := checkDemo(ctx, src, a, cfg, stdout, true); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nreplica matches source, row for row")
	if kept {
		fmt.Fprintf(stdout, "kept in %s; look inside: sqlite3 %s 'SELECT * FROM tmp_replication_state'\n", *dir, replicaPath)
	} else {
		fmt.Fprintf(stdout, "removed %s (run litepull demo -keep to keep it and look inside)\n", *dir)
	}
	return nil
}

// checkDemo compares every table with the source and prints the outcome;
// exact also wants the rows whose cursor is NULL.
func checkDemo(ctx context.Context, src *sqlite3.Conn, a *app, cfg *litepull.Config, w io.Writer, exact bool) error {
	fmt.Fprintln(w, "\n== check: replica against source ==")
	ok := true
	for _, tc := range cfg.Sources[0].Tables {
		msg, err := compareDemo(ctx, src, a, tc, exact)
		if err != nil {
			ok = false
			msg = "MISMATCH: " + err.Error()
		}
		fmt.Fprintf(w, "%-12s -> %-20s %s\n", tc.Table, tc.DestName(), msg)
	}
	if !ok {
		return exitError{1, "replica does not match source"}
	}
	return nil
}

// demoTicks runs ticks until no table has more pages, printing each.
func demoTicks(ctx context.Context, a *app, w io.Writer) error {
	for tick := 1; ; tick++ {
		sum, err := a.engine.Run(ctx, litepull.RunOptions{})
		if err != nil {
			return err
		}
		var parts []string
		for _, t := range sum.Tables {
			if t.Error != "" {
				return fmt.Errorf("table %s: %s", t.Table, t.Error)
			}
			parts = append(parts, fmt.Sprintf("%s +%d (cursor %s, more=%v)", t.Table, t.RowsPulled, t.CursorValue, t.MorePagesAvailable))
		}
		fmt.Fprintf(w, "tick %d: %s\n", tick, strings.Join(parts, "; "))
		if !sum.MorePagesAvailable() {
			for _, t := range sum.Tables {
				if t.NullCursorRows > 0 {
					fmt.Fprintf(w, "  note: %s has %d row(s) whose %s is NULL; they cannot be pulled incrementally and are reported, not dropped silently\n", t.Table, t.NullCursorRows, "cursor")
				}
			}
			return nil
		}
	}
}

func seedDemo(c *sqlite3.Conn, rng *rand.Rand, base time.Time) (err error) {
	tx := c.Begin()
	defer tx.End(&err)
	// Users: 2000 rows on only 40 distinct updated_at values: pages of 500
	// end in the middle of a tie every time.
	for i := 1; i <= 2000; i++ {
		ts := base.Add(time.Duration(i/50) * time.Second).Format(litepull.LayoutTimestampTZ)
		if err := sqlitex.Exec(c, "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", int64(i), fmt.Sprintf("user%d@example.com", i),
			demoName(rng), fmt.Sprintf("%d.%02d", rng.IntN(100000), rng.IntN(100)), int64(rng.IntN(2)), ts); err != nil {
			return err
		}
	}
	for i := 1; i <= 1500; i++ {
		var ts any = base.Add(time.Duration(i/100) * time.Minute).Format(litepull.LayoutTimestampTZ)
		if i == 777 {
			ts = nil // one row whose cursor is NULL
		}
		if err := sqlitex.Exec(c, "INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?, ?)", int64(1+i/3), int64(i%3), fmt.Sprintf("SKU-%04d", rng.IntN(500)),
			int64(1+rng.IntN(9)), float64(rng.IntN(10000))/100, "note "+demoName(rng), ts); err != nil {
			return err
		}
	}
	for i := 1; i <= 1000; i++ {
		raw := make([]byte, 1+rng.IntN(32))
		for j := range raw {
			raw[j] = byte(rng.IntN(256))
		}
		if err := sqlitex.Exec(c, "INSERT INTO events VALUES (?, ?, ?, ?, ?)", int64(i), []string{"click", "view", "buy"}[rng.IntN(3)],
			fmt.Sprintf(`{"n":%d,"tags":["a","ü"]}`, i), raw, rng.Float64()); err != nil {
			return err
		}
	}
	return nil
}

// mutateDemo inserts and updates rows at the source and says what it did.
func mutateDemo(c *sqlite3.Conn, rng *rand.Rand, base time.Time) (_ string, err error) {
	tx := c.Begin()
	defer tx.End(&err)
	later := base.Add(time.Hour).Format(litepull.LayoutTimestampTZ)
	for i := 2001; i <= 2200; i++ {
		if err := sqlitex.Exec(c, "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", int64(i), fmt.Sprintf("user%d@example.com", i), demoName(rng), "0.00", int64(1), later); err != nil {
			return "", err
		}
	}
	if err := sqlitex.Exec(c, "UPDATE users SET name = name || ' (edited)', balance = balance + 1, updated_at = ? WHERE id % 7 = 0 AND id <= 2000", later); err != nil {
		return "", err
	}
	updated := c.Changes()
	for i := 1501; i <= 1550; i++ {
		if err := sqlitex.Exec(c, "INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?, ?)", int64(1+i/3), int64(i%3), "SKU-NEW", int64(1), 9.99, "", later); err != nil {
			return "", err
		}
	}
	for i := 1001; i <= 1100; i++ {
		if err := sqlitex.Exec(c, "INSERT INTO events VALUES (?, ?, ?, ?, ?)", int64(i), "late", "{}", []byte{}, 0.5); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("users: 200 inserted, %d updated with a later updated_at; order_lines: 50 inserted; events: 100 inserted", updated), nil
}

var demoNames = []string{"Ada", "Grace", "Linus", "Édith", "Søren", "Zoë", "李", "Олег"}

func demoName(rng *rand.Rand) string { return demoNames[rng.IntN(len(demoNames))] }

// compareDemo reads the table from both sides and compares every value.
// Unless exact, rows with a NULL cursor are expected to be absent from the
// replica.
func compareDemo(ctx context.Context, src *sqlite3.Conn, a *app, tc litepull.TableConfig, exact bool) (string, error) {
	cols := tc.Columns
	if len(cols) == 0 {
		_, rows, err := a.local.Query(ctx, "SELECT name FROM pragma_table_info(?) ORDER BY cid", tc.DestName())
		if err != nil {
			return "", err
		}
		for _, r := range rows {
			cols = append(cols, r[0].(string))
		}
	}
	list := `"` + strings.Join(cols, `", "`) + `"`
	order := " ORDER BY 1, 2"
	where := " WHERE " + tc.CursorColumn + " IS NOT NULL"
	if exact {
		where = ""
	}
	want, err := querySourceRows(src, "SELECT "+list+" FROM "+tc.Table+where+order)
	if err != nil {
		return "", err
	}
	_, got, err := a.local.Query(ctx, "SELECT "+list+" FROM "+tc.DestName()+order)
	if err != nil {
		return "", err
	}
	if len(got) != len(want) {
		return "", fmt.Errorf("replica has %d rows, source %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(normalize(want[i]), normalize(got[i])) {
			return "", fmt.Errorf("row %d differs: source %v, replica %v", i, want[i], got[i])
		}
	}
	nulls, err := querySourceRows(src, "SELECT count(*) FROM "+tc.Table+" WHERE "+tc.CursorColumn+" IS NULL")
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("%d rows x %d columns identical", len(got), len(cols))
	if n := nulls[0][0].(int64); n > 0 && !exact {
		msg += fmt.Sprintf("; %d NULL-cursor row(s) reported, not replicated", n)
	}
	return msg, nil
}

func normalize(row []any) []any {
	for i, v := range row {
		if b, ok := v.([]byte); ok && len(b) == 0 {
			row[i] = []byte{}
		}
	}
	return row
}

func querySourceRows(c *sqlite3.Conn, q string) ([][]any, error) {
	_, rows, err := sqlitex.QueryAll(c, q)
	return rows, err
}

// demoSourceID marks the source files the demo makes ("LPDM"), so that a
// later demo in the same folder knows it may replace them.
const demoSourceID = 0x4c50444d

// checkDemoDir refuses to replace a source.db or replica.db that an earlier
// demo did not make: -dir may name a folder with the user's own files.
func checkDemoDir(srcPath, replicaPath string) error {
	// The replica lock has just made an empty replica.db: empty is absent.
	present := func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Size() > 0 }
	if !present(replicaPath) && !present(srcPath) {
		return nil
	}
	if fileAppID(srcPath) == demoSourceID {
		return nil
	}
	return fmt.Errorf("demo: %s already holds a source.db or replica.db that the demo did not make; give -dir an empty or new folder", filepath.Dir(srcPath))
}

// fileAppID reads the application_id of a SQLite file from its header
// (bytes 68–71, big-endian) without opening it as a database; 0 if it is
// not one.
func fileAppID(path string) uint32 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return 0
	}
	return binary.BigEndian.Uint32(h[68:72])
}
