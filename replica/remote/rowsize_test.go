package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica/remote"
)

// TestRowOverServiceLimit: D1 and a Durable Object (StarbaseDB) store no
// string, BLOB or row over 2,000,000 bytes, and their test servers refuse
// one as they do. A row over it is refused before anything of its batch
// is sent, naming the table and the row's key; a row under it is written.
func TestRowOverServiceLimit(t *testing.T) {
	for _, k := range kinds[:2] { // starbase, d1
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			srv := k.new(t)
			if _, err := srv.Query("SELECT length(zeroblob(2000001))", nil); err == nil {
				t.Fatal("the test server made a value over 2,000,000 bytes; the service refuses it")
			}
			r := open(t, srv)
			tg := evTarget()
			if err := r.EnsureTable(ctx, tg); err != nil {
				t.Fatal(err)
			}
			ok := strings.Repeat("x", 1_900_000)
			if err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(1), int64(1), ok}}}}}); err != nil {
				t.Fatalf("a row of 1.9 MB: %v", err)
			}
			before := srv.Writes()
			big := strings.Repeat("y", 2_000_001)
			err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(2), int64(2), "small"}, {int64(3), int64(2), big}}}}})
			if !errors.Is(err, remote.ErrRowTooLarge) || !strings.Contains(err.Error(), "(id) = (3)") || srv.Writes() != before {
				t.Fatalf("a row over 2,000,000 bytes: %v (%d requests sent), want ErrRowTooLarge naming key 3, nothing sent", err, srv.Writes()-before)
			}
		})
	}
}

// TestRowOverRequest: on libSQL, which stores large rows, a row larger
// than one request is refused with an error that says a single row can
// be this large, not only that the page is.
func TestRowOverRequest(t *testing.T) {
	ctx := context.Background()
	srv := kinds[2].new(t)
	r := open(t, srv)
	tg := evTarget()
	if err := r.EnsureTable(ctx, tg); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("z", 33<<20)
	err := r.Apply(ctx, litepull.Batch{Changes: []litepull.TableChanges{{Target: tg, Upserts: [][]litepull.Value{{int64(1), int64(1), huge}}}}})
	if !errors.Is(err, remote.ErrBatchTooLarge) || !strings.Contains(err.Error(), "single row") {
		t.Fatalf("a row of 33 MiB: %v, want ErrBatchTooLarge saying a single row may be the cause", err)
	}
}
