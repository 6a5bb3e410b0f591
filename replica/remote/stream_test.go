package remote_test

import (
	"context"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/testdb"
	"github.com/litepull/litepull/source/postgres"
)

// TestStreamIntoRemote streams Postgres's logical changes into each
// service: the snapshot copy, then inserts, a delete, a key change and an
// update that leaves a TOASTed value unchanged (Postgres does not send
// it: the replica keeps its own, read in the same request), each source
// transaction one request.
func TestStreamIntoRemote(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		pg := testdb.Postgres(t)
		pg.Exec(t, "CREATE TABLE docs (id bigint PRIMARY KEY, body text, n int)")
		pg.Exec(t, "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL") // TOASTed uncompressed
		pg.Exec(t, "INSERT INTO docs SELECT g, repeat(md5(g::text), 200), g FROM generate_series(1, 20) g")
		c := litepull.Config{Replica: "unused", Sources: []litepull.SourceConfig{{ID: "pg", Kind: "postgres", DSN: pg.DSN, Schema: pg.Schema,
			Changes: litepull.ChangesLogical, Slot: pg.Schema + "_" + k.name, Publication: pg.Schema + "_" + k.name,
			Tables: []litepull.TableConfig{{Table: "docs"}}}}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		cfg := c.Sources[0]
		src, err := postgres.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := src.DropChanges(ctx, cfg.ChangeOptions(nil)); err != nil {
				t.Errorf("drop slot %s: %v", cfg.Slot, err)
			}
			src.Close()
		})
		srv := k.new(t)
		e := litepull.NewEngine(open(t, srv), []litepull.BoundSource{{Config: cfg, Source: src}}, nil)
		drain := func() {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sum, err := e.Run(ctx, litepull.RunOptions{Drain: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range sum.Tables {
				if r.Err != nil {
					t.Fatalf("%s: %v", r.Table, r.Err)
				}
			}
		}
		drain()
		pg.Exec(t, "UPDATE docs SET n = n + 100 WHERE id IN (3, 4)") // body unchanged: not sent
		pg.Exec(t, "DELETE FROM docs WHERE id = 5")
		pg.Exec(t, "UPDATE docs SET id = 50 WHERE id = 6")
		pg.Exec(t, "INSERT INTO docs SELECT g, 'short ' || g, g FROM generate_series(21, 30) g")
		drain()
		want := pg.Strings(t, "SELECT id || '|' || md5(body) || '|' || n FROM docs ORDER BY id")
		res, err := srv.Query("SELECT id, body, n FROM docs ORDER BY id", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, fmt.Sprintf("%d|%s|%d", r[0], md5hex(r[1].(string)), r[2]))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("replica:\n%s\nsource:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func md5hex(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
