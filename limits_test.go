package litepull_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

// TestValueTooLargeFailsItsTable: a value longer than SQLite stores fails
// its table with an error that names the table, column, size and limit,
// before any of its page is written; the other tables run on.
func TestValueTooLargeFailsItsTable(t *testing.T) {
	defer litepull.SetMaxValueBytes(1000)()
	path := sourceFile(t, 5)
	mustExec(path, `CREATE TABLE big (id INTEGER PRIMARY KEY, note TEXT, b BLOB);
		INSERT INTO big VALUES (1, 'ok', x'00'), (2, 'long', zeroblob(1001)), (3, 'wide', NULL);
		UPDATE big SET note = printf('%.600c', 'x'), b = zeroblob(600) WHERE id = 3;`)
	e, r := newEngine(t, path, litepull.TableConfig{Table: "big", CursorColumn: "id"}, litepull.TableConfig{Table: "t", CursorColumn: "id"})
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	big, small := sum.Tables[0], sum.Tables[1]
	if small.Error != "" || small.RowsPulled != 5 {
		t.Fatalf("the other table: %+v, want 5 rows and no error", small)
	}
	if !errors.Is(big.Err, litepull.ErrValueTooLarge) {
		t.Fatalf("table big: %v, want ErrValueTooLarge", big.Err)
	}
	for _, want := range []string{"big", "column b", "id = 2", "1001 bytes", "1000 bytes"} {
		if !strings.Contains(big.Err.Error(), want) {
			t.Errorf("error %q does not say %q", big.Err, want)
		}
	}
	if _, rows, _ := r.Query(context.Background(), "SELECT count(*) FROM big"); rows[0][0] != int64(0) {
		t.Errorf("the failed page left %v rows in the replica", rows[0][0])
	}

	// A row of values that fit but together do not is refused too.
	mustExec(path, `DELETE FROM big WHERE id = 2`)
	sum, _ = e.Run(context.Background(), litepull.RunOptions{Drain: true, Table: "big"})
	if err := sum.Tables[0].Err; !errors.Is(err, litepull.ErrValueTooLarge) || !strings.Contains(err.Error(), "id = 3") ||
		!strings.Contains(err.Error(), "1208 bytes") {
		t.Fatalf("a 1208-byte row: %v, want ErrValueTooLarge naming the row and its size", err)
	}
}
