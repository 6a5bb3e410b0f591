package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/litepull/litepull"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML)")
	drain := fs.Bool("drain", false, "read pages until every table is caught up, instead of one page per table")
	source := fs.String("source", "", "run only the source with this `id`")
	table := fs.String("table", "", "run only this `table` (source or dest name)")
	full := fs.Bool("full", false, "copy the selected tables whole and swap them in (finds deleted rows, picks up NULL cursors)")
	reconcile := fs.Bool("reconcile", false, "look for rows deleted at the source now, in the selected tables")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	verbose := fs.Bool("v", false, "log debug messages")
	wait := fs.Duration("wait", 0, waitFlag)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w := &writer{command: "litepull run", wait: *wait,
		api: "POST /replicate/run" + runQuery(*source, *table, *drain, *full, *reconcile)}
	a, err := openApp(ctx, *config, newLogger(stderr, *verbose), w)
	if err != nil {
		return err
	}
	defer a.Close()
	bar := newProgress(stderr)
	sum, err := a.engine.Run(ctx, litepull.RunOptions{SourceID: *source, Table: *table, Drain: *drain,
		Full: *full, Reconcile: *reconcile, Progress: bar.Update})
	bar.Done()
	if sum != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(sum)
		} else {
			printSummary(stdout, sum)
		}
	}
	if err != nil {
		return err
	}
	if n := sum.Failed(); n > 0 {
		return exitError{1, fmt.Sprintf("%d table(s) failed", n)}
	}
	return nil
}

// runQuery is the query string of the POST /replicate/run that does what a
// run's flags ask.
func runQuery(source, table string, drain, full, reconcile bool) string {
	q := url.Values{}
	for k, v := range map[string]string{"source": source, "table": table} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, on := range map[string]bool{"drain": drain, "full": full, "reconcile": reconcile} {
		if on {
			q.Set(k, "1")
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// printSummary prints one line per table.
func printSummary(w io.Writer, sum *litepull.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTABLE\tDEST\tROWS\tPAGES\tCURSOR\tMORE\tNULL-CURSOR\tSTATUS")
	for _, t := range sum.Tables {
		status := "ok"
		switch {
		case t.Error != "":
			status = "ERROR: " + t.Error
		case t.Skipped != "":
			status = "skipped: " + t.Skipped
		case t.NullCursorRows > 0 && !t.FullRefresh:
			status = fmt.Sprintf("ok; %d row(s) with a NULL cursor are not replicated", t.NullCursorRows)
		}
		if t.Error == "" && len(t.Warnings) > 0 {
			warning := "WARNING: " + strings.Join(t.Warnings, "; ")
			if status != "ok" {
				warning += "; " + status
			}
			status = warning
		}
		if t.FullRefresh {
			status += "; full refresh"
		}
		if t.SchemaChange != nil {
			status += "; rebuilt from a full copy: its columns changed (" + t.SchemaChange.String() + ")"
		}
		if t.Note != "" {
			status += "; " + t.Note
		}
		if t.RowsDeleted > 0 || t.Reconciled {
			status += fmt.Sprintf("; %d deleted", t.RowsDeleted)
		}
		nulls := "-"
		if t.NullCursorRows >= 0 {
			nulls = fmt.Sprint(t.NullCursorRows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%v\t%s\t%s\n", t.SourceID, t.Table, t.Dest, t.RowsPulled, t.Pages, t.CursorValue, t.MorePagesAvailable, nulls, status)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d rows in %s\n", sum.RowsPulled(), sum.Duration.Round(time.Millisecond))
	if n := sum.Warned(); n > 0 {
		fmt.Fprintf(w, "%d table(s) with a WARNING: rows may be missed until it is dealt with\n", n)
	}
}
