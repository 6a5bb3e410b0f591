package litepull_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/source/sqlite"
)

// Example replicates a SQLite file into a replica with the library API:
// open the replica and a source, make an engine, run it.
func Example() {
	dir, _ := os.MkdirTemp("", "litepull-example-")
	defer os.RemoveAll(dir)
	srcPath := filepath.Join(dir, "src.db")
	mustExec(srcPath, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'Ada'), (2, 'Grace');")

	cfg, err := litepull.ParseConfig([]byte(`
replica: `+filepath.Join(dir, "replica.db")+`
sources:
  - id: local
    kind: sqlite
    dsn: `+srcPath+`
    tables:
      - table: users
        cursorColumn: id
`), os.LookupEnv)
	if err != nil {
		panic(err)
	}
	r, err := replica.Open(cfg.Replica)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	src, err := sqlite.New(cfg.Sources[0])
	if err != nil {
		panic(err)
	}
	defer src.Close()

	e := litepull.NewEngine(r, []litepull.BoundSource{{Config: cfg.Sources[0], Source: src}}, nil)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true})
	if err != nil {
		panic(err)
	}
	for _, t := range sum.Tables {
		fmt.Printf("%s: %d rows, cursor %s, more pages: %v\n", t.Table, t.RowsPulled, t.CursorValue, t.MorePagesAvailable)
	}
	// Output: users: 2 rows, cursor 2, more pages: false
}
