package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is one litepull subcommand and the help that explains it.
type command struct {
	name     string
	synopsis string   // one line, in the command list
	usage    string   // what follows "litepull NAME" in the usage line
	about    string   // a few more lines, if any
	example  string   // one or more example command lines
	hidden   []string // flags for developers, left out of the help
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands, in the order the help lists them.
var commands = []*command{
	{name: "demo", run: runDemo,
		synopsis: "replicate an embedded example database and check the replica row for row; no server needed",
		usage:    "[-keep] [-dir DIR]",
		about:    "Without -dir the demo works in a new temporary directory, removed at the end unless -keep.",
		example:  "litepull demo -keep"},
	{name: "run", run: runRun,
		synopsis: "pull new rows from the configured tables into the replica, once",
		usage:    "-config FILE [-drain] [-source ID] [-table T] [-full] [-reconcile] [-json] [-wait D]",
		about: "Without -drain, one page per table; with it, until every table is caught up.\n" +
			"Exits 1 when a table failed; the other tables still ran and committed.",
		example: "litepull run -config litepull.yaml -drain\nlitepull run -config litepull.yaml -table orders -full"},
	{name: "status", run: runStatus,
		synopsis: "show each table's watermark, row counts and last error, and each change stream's position, from the replica",
		usage:    "-config FILE | -replica FILE  [-json]",
		example:  "litepull status -config litepull.yaml"},
	{name: "validate", run: runValidate,
		synopsis: "check the config, connect to every source and resolve each table's cursor, key and columns",
		usage:    "-config FILE",
		about:    "Reads no rows. Exits 1 and lists every problem found.",
		example:  "litepull validate -config litepull.yaml"},
	{name: "reset", run: runReset,
		synopsis: "forget a table's watermark, so that the next run reads it again from the start",
		usage:    "-config FILE -source ID -table T [-wait D]",
		example:  "litepull reset -config litepull.yaml -source pg -table orders"},
	{name: "serve", run: runServe,
		synopsis: "run the scheduler, the change streams and the HTTP admin and query API",
		usage:    "-config FILE [-addr 127.0.0.1:8080] [-v] [-wait D]",
		about: "Tokens come from the environment: " + envAdminToken + " (admin API) and " + envQueryToken + " (/query).\n" +
			"Without " + envAdminToken + " it listens on a loopback address only.\n" +
			"A source with changes: logical needs no schedule: its changes stream in continuously, and a\n" +
			"stream that fails is followed again after a backoff.",
		example: envAdminToken + "=$(openssl rand -hex 16) litepull serve -config litepull.yaml -addr :8080"},
	{name: "slot", run: runSlot,
		synopsis: "drop a streamed source's replication slot and publication (a forgotten slot fills the source's disk)",
		usage:    "drop -config FILE -source ID",
		about:    slotAbout,
		example:  "litepull slot drop -config litepull.yaml -source pg"},
	{name: "bench", run: runBench,
		synopsis: "measure rows/s from a local Postgres or MySQL against SQLite's own write ceiling, or change streams against polling",
		usage:    "[-source postgres|mysql] [-rows N] [-page N] [-rounds N] | -reconcile N [-clustered] | -stream [-source postgres|mysql] [-commits N] [-clients N] [-rate N]",
		about: "Creates its table in the database the DSN names (schema " + benchSchema + ") and drops it after, unless -keep.\n" +
			"-stream (Postgres with wal_level = logical: changes: logical; MySQL/MariaDB with binlog_format = ROW:\n" +
			"changes: binlog) measures, each phase in a child process: a polling load\n" +
			"against the snapshot copy of a stream; one transaction of -rows rows, from its commit to the replica\n" +
			"showing it; -commits single-row transactions from -clients connections, applied while streaming and\n" +
			"from a backlog; and commit-to-visible latency at -rate commits/s, as a reader of the replica file sees\n" +
			"it. Each phase uses a slot and publication of its own and drops them after (MySQL: a binlog server id).",
		example: "litepull bench -source mysql -rows 200000\nlitepull bench -reconcile 100\nlitepull bench -stream -rounds 3\nlitepull bench -stream -source mysql",
		hidden:  []string{"phase", "slot", "cpuprofile"}},
	{name: "version", run: runVersion,
		synopsis: "print litepull's version",
		example:  "litepull version"},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// One writer per replica, said once in the top-level help.
const writerNote = `One writer per replica: serve, run, reset and demo lock it; a second writer
is refused (or waits -wait D) and told who holds it. status and validate
only read, and slot drop leaves the replica alone: they work alongside.`

// printUsage prints the top-level help: every command with its synopsis.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "litepull keeps a local SQLite replica of tables in remote databases.\n\n")
	fmt.Fprint(w, "Usage:\n  litepull COMMAND [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(tw, "  help\t%s\n", "show a command's flags and an example: litepull help run")
	tw.Flush()
	fmt.Fprintf(w, "\n%s\n\nRun \"litepull help COMMAND\" (or \"litepull COMMAND -h\") for a command's flags and an example.\n", writerNote)
}

// runHelp is "litepull help [COMMAND]".
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil || len(args) > 1 {
		fmt.Fprintf(stderr, "litepull help: no command %q\n\n", strings.Join(args, " "))
		printUsage(stderr)
		return 2
	}
	return c.exec(ctx, []string{"-h"}, stdout, stderr)
}

// exec runs the command and turns its error into an exit code.
func (c *command) exec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := c.run(ctx, args, stdout, stderr)
	var help helpRequest
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		c.printHelp(stdout, help.flags)
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "litepull %s: %v\nRun \"litepull help %s\" for its flags and an example.\n", c.name, err, c.name)
		return 2
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintf(stderr, "litepull %s: interrupted; what was committed stays, and the next run carries on from there\n", c.name)
		return 130
	}
	fmt.Fprintf(stderr, "litepull %s: %v\n", c.name, err)
	if e, ok := err.(exitCoder); ok {
		return e.ExitCode()
	}
	return 1
}

// printHelp prints the command's synopsis, usage, described flags and
// example.
func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "litepull %s: %s\n\nUsage:\n  litepull %s %s\n", c.name, c.synopsis, c.name, c.usage)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(c.hidden, f.Name) {
			return
		}
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		arg, text := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		if !isZeroDefault(f.DefValue) {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  -%s%s\n        %s\n", f.Name, arg, text)
	})
	fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(c.example, "\n", "\n  "))
}

func isZeroDefault(v string) bool {
	return v == "" || v == "0" || v == "false" || v == "0s"
}

// helpRequest is returned by parseFlags for -h: the command prints its help.
type helpRequest struct{ flags *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// usageError is a command called wrongly: a bad flag, a missing one, a
// stray argument. It exits 2, the convention for usage errors.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// parseFlags parses a command's flags. -h becomes a helpRequest; a bad flag
// or a stray argument a usageError. The flag package prints nothing: the
// command's help says it better.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs}
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
