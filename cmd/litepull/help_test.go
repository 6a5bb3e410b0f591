package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// userCommands are the commands a user is shown, each with a flag its help
// must describe.
var userCommands = map[string]struct{ flag, described string }{
	"demo":     {"-keep", "keep"},
	"run":      {"-drain", "until every table is caught up"},
	"status":   {"-json", "JSON"},
	"validate": {"-config", "config file"},
	"reset":    {"-table", "table"},
	"serve":    {"-addr", "listen"},
	"slot":     {"-source", "whose slot and publication to drop"},
	"bench":    {"-rows", "rows in the benchmark table"},
	"version":  {"", ""},
}

// TestCommandHelp: every command explains itself, the same way through
// "litepull help CMD" and "litepull CMD -h", on stdout, and exits 0.
func TestCommandHelp(t *testing.T) {
	for name, want := range userCommands {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runMain(t, "help", name)
			if code != 0 || errOut != "" {
				t.Fatalf("help %s exited %d, stderr %q", name, code, errOut)
			}
			for _, s := range []string{"litepull " + name, "Usage:", "Example:"} {
				if !strings.Contains(out, s) {
					t.Errorf("help %s lacks %q:\n%s", name, s, out)
				}
			}
			if want.flag != "" && (!strings.Contains(out, want.flag) || !strings.Contains(out, want.described)) {
				t.Errorf("help %s does not describe %s (%q):\n%s", name, want.flag, want.described, out)
			}
			if strings.Contains(out, "Commands:") {
				t.Errorf("help %s shows the top-level usage:\n%s", name, out)
			}
			code, dashH, errOut := runMain(t, name, "-h")
			if code != 0 || dashH != out || errOut != "" {
				t.Errorf("%s -h exited %d, stderr %q, and differs from help %s:\n%s", name, code, errOut, name, dashH)
			}
		})
	}
}

// TestTopLevelHelp lists every command with its one-line synopsis.
func TestTopLevelHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"--help"}} {
		code, out, _ := runMain(t, args...)
		if code != 0 {
			t.Fatalf("%v exited %d", args, code)
		}
		for name := range userCommands {
			if !strings.Contains(out, "\n  "+name+" ") {
				t.Errorf("%v does not list %s:\n%s", args, name, out)
			}
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-bogus"},
		{"status", "-json=maybe"},
		{"help", "nonsense"},
		{"reset", "-config", "x.yaml"}, // -source and -table missing
		{"run", "stray"},
		{"slot"},                              // no subcommand
		{"slot", "nuke"},                      // an unknown one
		{"slot", "drop", "-config", "x.yaml"}, // -source missing
	} {
		code, out, errOut := runMain(t, args...)
		if code != 2 {
			t.Errorf("%v exited %d, want 2\n%s%s", args, code, out, errOut)
		}
		if args[0] != "help" && !strings.Contains(errOut, "litepull help "+args[0]) {
			t.Errorf("%v: stderr %q does not point to the command's help", args, errOut)
		}
	}
	code, _, errOut := runMain(t, "run", "-bogus")
	if code != 2 || strings.Count(errOut, "-bogus") != 1 || strings.Contains(errOut, "-drain") {
		t.Errorf("a bad flag: say so once, without the whole flag list: %q", errOut)
	}
}

// TestBenchHelpHidesInternalFlags: the flags the benchmark passes to its own
// child processes are not the user's.
func TestBenchHelpHidesInternalFlags(t *testing.T) {
	_, out, errOut := runMain(t, "bench", "-h")
	out += errOut
	if !strings.Contains(out, "-rows") {
		t.Fatalf("bench -h does not show its flags:\n%s", out)
	}
	for _, internal := range []string{"-phase", "-slot", "-cpuprofile"} {
		if strings.Contains(out, internal) {
			t.Errorf("help bench shows %s:\n%s", internal, out)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := runMain(t, args...)
		if code != 0 || !strings.HasPrefix(out, "litepull ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v exited %d: %q %q", args, code, out, errOut)
		}
	}
}

// TestDemoCleansUp: the demo's temporary directory is removed at the end,
// unless -keep, which says where it is.
func TestDemoCleansUp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, out, errOut := runMain(t, "demo")
	if code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "litepull-demo-*")); len(left) > 0 {
		t.Fatalf("demo left %v behind", left)
	}
	code, out, errOut = runMain(t, "demo", "-keep")
	if code != 0 {
		t.Fatalf("demo -keep exited %d\n%s\n%s", code, out, errOut)
	}
	kept, _ := filepath.Glob(filepath.Join(tmp, "litepull-demo-*"))
	if len(kept) != 1 || !strings.Contains(out, kept[0]) {
		t.Fatalf("demo -keep kept %v; output does not say where:\n%s", kept, out)
	}
	if _, err := os.Stat(filepath.Join(kept[0], "replica.db")); err != nil {
		t.Fatal(err)
	}
}

// TestResetWithNothingToForget: a table that has no watermark yet is not
// "forgotten"; one that has is.
func TestResetWithNothingToForget(t *testing.T) {
	cfg, _ := lockConfig(t)
	code, out, errOut := runMain(t, "reset", "-config", cfg, "-source", "s", "-table", "t")
	if code != 0 || !strings.Contains(out, "nothing to forget") || strings.Contains(out, "forgot") {
		t.Fatalf("reset before any run exited %d: %q %q", code, out, errOut)
	}
	if code, out, errOut := runMain(t, "run", "-config", cfg); code != 0 {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, "reset", "-config", cfg, "-source", "s", "-table", "t_copy")
	if code != 0 || !strings.Contains(out, "forgot the watermark of s/t") {
		t.Fatalf("reset after a run exited %d: %q %q", code, out, errOut)
	}
}
