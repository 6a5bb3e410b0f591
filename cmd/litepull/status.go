package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/replica/remote"
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
	var cfg *litepull.Config
	if path == "" {
		if *config == "" {
			return usageErrorf("-config or -replica is required")
		}
		var err error
		if cfg, err = litepull.LoadConfig(*config); err != nil {
			return err
		}
		path = cfg.Replica
		if cfg.RemoteReplica != nil {
			r, err := remote.Open(ctx, *cfg.RemoteReplica)
			if err != nil {
				return err
			}
			defer r.Close()
			return printStatus(ctx, r, cfg, *asJSON, stdout, stderr)
		}
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no replica at %s yet: run litepull run -config … first", path)
	}
	r, err := replica.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	return printStatus(ctx, r, cfg, *asJSON, stdout, stderr)
}

// statusReader is what status reads of the replica.
type statusReader interface {
	States(ctx context.Context) ([]litepull.State, error)
	StreamStates(ctx context.Context) ([]litepull.StreamState, error)
}

// printStatus prints the tables' states, then the change streams (cfg, if
// known, names the streamed sources not recorded yet). The JSON output is
// the tables' states alone, as it always was.
func printStatus(ctx context.Context, r statusReader, cfg *litepull.Config, asJSON bool, stdout, stderr io.Writer) error {
	states, err := r.States(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if states == nil {
			states = []litepull.State{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(states)
	}
	printStates(stdout, states)
	streams, err := r.StreamStates(ctx)
	if err != nil {
		if cfg == nil || len(logicalSources(cfg)) > 0 {
			fmt.Fprintf(stderr, "litepull status: cannot read the change streams' record: %v\n", err)
		}
		return nil
	}
	printStreams(stdout, streams, cfg)
	return nil
}

// logicalSources are the config's sources with changes: logical.
func logicalSources(cfg *litepull.Config) []litepull.SourceConfig {
	var out []litepull.SourceConfig
	for _, sc := range cfg.Sources {
		if sc.Streams() {
			out = append(out, sc)
		}
	}
	return out
}

// printStreams lists where each change stream stands in the replica: its
// slot, the last source transaction applied, when the source committed it
// and when it was applied here.
func printStreams(w io.Writer, streams []litepull.StreamState, cfg *litepull.Config) {
	if cfg != nil {
		for _, sc := range logicalSources(cfg) {
			if !slices.ContainsFunc(streams, func(s litepull.StreamState) bool { return s.SourceID == sc.ID }) {
				streams = append(streams, litepull.StreamState{SourceID: sc.ID, Slot: sc.ChangeOptions(nil).Slot})
			}
		}
	}
	if len(streams) == 0 {
		return
	}
	fmt.Fprintln(w, "\nchange streams:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSLOT\tPOSITION\tLAST COMMIT\tAPPLIED")
	for _, s := range streams {
		pos, applied := string(s.Position), ago(s.Applied)
		if pos == "" {
			pos, applied = "-", "not streamed yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.SourceID, s.Slot, pos, ago(s.Commit), applied)
	}
	tw.Flush()
	printLeftStreams(w, streams, cfg)
}

// printLeftStreams notes each stream the replica followed for a source
// the config no longer streams: a Postgres slot keeps the source's WAL
// until it is dropped, and nothing else will say so.
func printLeftStreams(w io.Writer, streams []litepull.StreamState, cfg *litepull.Config) {
	if cfg == nil {
		return
	}
	streamed := logicalSources(cfg)
	for _, s := range streams {
		if slices.ContainsFunc(streamed, func(sc litepull.SourceConfig) bool { return sc.ID == s.SourceID }) {
			continue
		}
		fmt.Fprintf(w, "note: the config no longer streams source %s. If it is a Postgres source, its replication slot %s "+
			"keeps WAL at the source until dropped: with the source back in the config, litepull slot drop -source %s; "+
			"or, at the source, SELECT pg_drop_replication_slot('%s') (and DROP PUBLICATION).\n", s.SourceID, s.Slot, s.SourceID, s.Slot)
	}
}

// ago is t and how long ago it was, or "-".
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339) + " (" + time.Since(t).Round(time.Second).String() + " ago)"
}

func printStates(w io.Writer, states []litepull.State) {
	if len(states) == 0 {
		fmt.Fprintln(w, "no table has been replicated yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTABLE\tDEST\tCURSOR\tVALUE\tLAST RUN\tLAST ROWS\tTOTAL\tNULL-CURSOR\tDELETED\tLAST FULL\tLAST RECONCILE\tLAST ERROR")
	for _, s := range states {
		last := ago(s.LastRun)
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
