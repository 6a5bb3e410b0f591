package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/litepull/litepull/internal/testdb"
)

// TestJoiningHeardBeforeThePublicationChanges: OpenChanges tells Joining
// which tables the stream is about to carry before the publication holds
// them (an engine that records them then loses nothing if the session
// ends right after the change), and a Joining error leaves the
// publication as it was.
func TestJoiningHeardBeforeThePublicationChanges(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)")
	e := newChangeEnv(t, pg, "a")
	ctx := context.Background()
	cs, err := e.src.OpenChanges(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	cs.Close()
	published := func() []string {
		var names []string
		rows, err := pg.Conn.Query(ctx, "SELECT tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", e.opts.Publication)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		return names
	}

	e.opts.Tables = []string{"a", "b"}
	refuse := errors.New("replica unwritable")
	var heard [][]string
	e.opts.Joining = func(_ context.Context, tables []string) error {
		heard = append(heard, slices.Clone(tables))
		if p := published(); !slices.Equal(p, []string{"a"}) {
			t.Errorf("Joining heard after the publication changed: it holds %v", p)
		}
		return refuse
	}
	if _, err := e.src.OpenChanges(ctx, e.opts); !errors.Is(err, refuse) {
		t.Fatalf("OpenChanges with Joining failing: %v, want its error", err)
	}
	if p := published(); !slices.Equal(p, []string{"a"}) {
		t.Fatalf("a Joining error changed the publication: it holds %v", p)
	}
	e.opts.Joining = func(_ context.Context, tables []string) error {
		heard = append(heard, slices.Clone(tables))
		return nil
	}
	cs, err = e.src.OpenChanges(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if want := [][]string{{"b"}, {"b"}}; !slices.EqualFunc(heard, want, slices.Equal) || !slices.Equal(cs.Joined(), []string{"b"}) {
		t.Fatalf("Joining heard %v, Joined %v; want %v and [b]", heard, cs.Joined(), want)
	}
	if p := published(); !slices.Equal(p, []string{"a", "b"}) {
		t.Fatalf("the publication holds %v", p)
	}
}
