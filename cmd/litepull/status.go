package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML); its replica is read")
	file := fs.String("replica", "", "the replica `file` to read instead of the config's")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := *file
	if path == "" {
		if *config == "" {
			return usageErrorf("-config or -replica is required")
		}
		cfg, err := litepull.LoadConfig(*config)
		if err != nil {
			return err
		}
		path = cfg.Replica
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no replica at %s yet: run litepull run -config … first", path)
	}
	r, err := replica.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	states, err := r.States(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if states == nil {
			states = []litepull.State{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(states)
	}
	printStates(stdout, states)
	return nil
}

func printStates(w io.Writer, states []litepull.State) {
	if len(states) == 0 {
		fmt.Fprintln(w, "no table has been replicated yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTABLE\tDEST\tCURSOR\tVALUE\tLAST RUN\tLAST ROWS\tTOTAL\tNULL-CURSOR\tDELETED\tLAST FULL\tLAST RECONCILE\tLAST ERROR")
	for _, s := range states {
		last := "-"
		if !s.LastRun.IsZero() {
			last = s.LastRun.Format(time.RFC3339) + " (" + time.Since(s.LastRun).Round(time.Second).String() + " ago)"
		}
		nulls := "-"
		if s.NullCursorRows >= 0 {
			nulls = fmt.Sprint(s.NullCursorRows)
		}
		errText := "-"
		if s.LastError != "" {
			errText = fmt.Sprintf("%s (%d in a row)", s.LastError, s.ErrorCount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", s.SourceID, s.Table, s.Dest, s.CursorColumn, s.CursorValue,
			last, s.LastRowsPulled, s.RowsTotal, nulls, s.RowsDeleted, when(s.LastFullRefresh), when(s.LastReconcile), errText)
	}
	tw.Flush()
	for _, s := range states {
		if s.CursorAhead != "" {
			fmt.Fprintf(w, "WARNING %s/%s: %s\n", s.SourceID, s.Table, s.CursorAhead)
		}
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
