// Command litepull keeps a local SQLite replica of remote database tables.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `litepull keeps a local SQLite replica of tables in remote databases.

Usage:
  litepull demo                      replicate an embedded example database, no server needed
  litepull run -config FILE [-drain] [-source ID] [-table T] [-full] [-reconcile] [-json] [-wait D]
  litepull status -config FILE [-json]
  litepull validate -config FILE
  litepull reset -config FILE -source ID -table T [-wait D]
  litepull serve -config FILE [-addr 127.0.0.1:8080]   scheduler + admin API (tokens from env)
  litepull bench [-source mysql] [-rows N]   rows/s against SQLite's own write ceiling
  litepull bench -reconcile 100              reconciliation vs a full key scan

One writer per replica: serve, run, reset and demo lock it; a second writer
is refused (or waits -wait D) and told who holds it. status and validate
only read, and work alongside.

Run "litepull COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs one litepull command and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"demo":     runDemo,
		"run":      runRun,
		"status":   runStatus,
		"validate": runValidate,
		"reset":    runReset,
		"serve":    runServe,
		"bench":    runBench,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "litepull: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		if err == errFlagHelp {
			return 0
		}
		fmt.Fprintf(stderr, "litepull %s: %v\n", args[0], err)
		if e, ok := err.(exitCoder); ok {
			return e.ExitCode()
		}
		return 1
	}
	return 0
}
