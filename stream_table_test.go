package litepull_test

import (
	"context"
	"strings"
	"testing"

	"github.com/litepull/litepull"
)

// TestStreamRunOfAnUnknownTableFails: run -full -table T of a streamed
// source where T is no table of it (a typo, after the README told the
// user to copy T again) copied nothing and said ok; as for a polled
// source, it fails saying no table matches. A table named by its dest
// still matches.
func TestStreamRunOfAnUnknownTableFails(t *testing.T) {
	f := newFakeChanges(t, fakeSchema, fakeCols)
	e, _, _ := streamEngine(t, f)
	run(t, e)
	sum, err := e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true, Table: "nosuch"})
	if err == nil || !strings.Contains(err.Error(), "no table matches") {
		t.Fatalf("run -full -table nosuch: %v, %+v; want no table matches", err, sum)
	}
	sum, err = e.Run(context.Background(), litepull.RunOptions{Drain: true, Full: true, Table: "a"})
	if err != nil || sum.Failed() > 0 || !copied(sum, "a") {
		t.Fatalf("run -full -table a: %v, %+v", err, sum)
	}
}

// copied reports whether a run copied the table again.
func copied(sum *litepull.Summary, table string) bool {
	for _, r := range sum.Tables {
		if r.Table == table {
			return r.FullRefresh
		}
	}
	return false
}
