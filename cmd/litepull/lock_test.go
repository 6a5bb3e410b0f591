package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// envServeChild makes this test binary a child that runs `litepull serve`
// on the config named, until killed.
const envServeChild = "LITEPULL_TEST_SERVE_CONFIG"

func TestServeChild(t *testing.T) {
	cfg := os.Getenv(envServeChild)
	if cfg == "" {
		t.Skip("helper process for TestOneWriterAcrossProcesses")
	}
	os.Exit(Main(context.Background(), []string{"serve", "-config", cfg, "-addr", "127.0.0.1:0"}, os.Stdout, os.Stderr))
}

// lockConfig writes a config replicating a 30-row SQLite table t into
// t_copy, and returns its path and the replica's.
func lockConfig(t *testing.T) (cfg, replicaPath string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	c, err := sqlite3.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
		WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 30) INSERT INTO t SELECT i, 'v' || i FROM g;`); err != nil {
		t.Fatal(err)
	}
	replicaPath = filepath.Join(dir, "r.db")
	return writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: s
    kind: sqlite
    dsn: %s
    pageSize: 10
    tables:
      - table: t
        dest: t_copy
        cursorColumn: id
`, replicaPath, src)), replicaPath
}

// TestOneWriterPerReplica runs writer commands while `litepull serve` holds
// the replica: each is refused with the holder's name and what to do,
// status and validate still work, and once the daemon stops a run goes on.
func TestOneWriterPerReplica(t *testing.T) {
	t.Setenv("LITEPULL_ADMIN_TOKEN", "")
	cfg, replicaPath := lockConfig(t)
	if code, out, errOut := runMain(t, "run", "-config", cfg); code != 0 {
		t.Fatalf("first run exited %d\n%s\n%s", code, out, errOut)
	}
	d := startDaemon(t, cfg)
	held := fmt.Sprintf("replica %s is held by litepull serve (pid %d, since ", replicaPath, os.Getpid())
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"run", "-config", cfg, "-full", "-table", "t"}, "; stop it, or use POST /replicate/run?full=1&table=t on it"},
		{[]string{"run", "-config", cfg, "-drain"}, "; stop it, or use POST /replicate/run?drain=1 on it"},
		{[]string{"reset", "-config", cfg, "-source", "s", "-table", "t"}, "; stop it, or use POST /replicate/reset?source=s&table=t on it"},
		{[]string{"serve", "-config", cfg, "-addr", "127.0.0.1:0"}, "; stop it first"},
	} {
		// Bounded: a second serve that is not refused would serve forever.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var stdout, stderr bytes.Buffer
		code := Main(ctx, tc.args, &stdout, &stderr)
		cancel()
		out, errOut := stdout.String(), stderr.String()
		if code == 0 || !strings.Contains(errOut, held) || !strings.Contains(errOut, tc.hint) {
			t.Errorf("%s while serve holds the replica: exit %d\n%s\n%s\nwant a refusal naming the daemon and saying %q", tc.args[0], code, out, errOut, tc.hint)
		}
	}
	for _, args := range [][]string{{"status", "-config", cfg}, {"validate", "-config", cfg}} {
		if code, out, errOut := runMain(t, args...); code != 0 {
			t.Errorf("%s alongside serve exited %d\n%s\n%s", args[0], code, out, errOut)
		}
	}

	// The daemon's own reset: by source or replica name; an unknown table
	// is an error, not a silent no-op.
	var ans struct {
		Reset map[string]string `json:"reset"`
		Error any               `json:"error"`
	}
	if code := d.call(t, "POST", "/replicate/reset?source=s&table=t_copy", "", "", &ans); code != 200 || ans.Reset["table"] != "t" {
		t.Errorf("reset by replica name = %d %+v", code, ans)
	}
	if code := d.call(t, "POST", "/replicate/reset?source=s&table=nope", "", "", &ans); code != 404 || ans.Error == nil {
		t.Errorf("reset of an unknown table = %d %+v, want 404", code, ans)
	}

	if code := d.stop(); code != 0 {
		t.Fatalf("daemon exited %d", code)
	}
	if code, out, errOut := runMain(t, "run", "-config", cfg, "-drain"); code != 0 || !strings.Contains(out, "30 rows") {
		t.Fatalf("run after the daemon stopped exited %d\n%s\n%s", code, out, errOut)
	}
}

// TestOneWriterAcrossProcesses runs `litepull serve` in another process: a
// run here is refused with that process's pid; after it is SIGKILLed, the
// next run gets the replica.
func TestOneWriterAcrossProcesses(t *testing.T) {
	t.Setenv("LITEPULL_ADMIN_TOKEN", "")
	cfg, replicaPath := lockConfig(t)
	child := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	child.Env = append(os.Environ(), envServeChild+"="+cfg)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.HasPrefix(line, "litepull serving ") {
		t.Fatalf("child serve: %q", line)
	}

	code, _, errOut := runMain(t, "run", "-config", cfg, "-drain")
	want := fmt.Sprintf("replica %s is held by litepull serve (pid %d, since ", replicaPath, child.Process.Pid)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("run while another process serves: exit %d, %q; want it to say %q", code, errOut, want)
	}
	if code, _, errOut := runMain(t, "status", "-config", cfg); code != 0 {
		t.Fatalf("status alongside serve exited %d: %s", code, errOut)
	}

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if code, out, errOut := runMain(t, "run", "-config", cfg, "-drain"); code != 0 || !strings.Contains(out, "30 rows") {
		t.Fatalf("run after the daemon was killed exited %d\n%s\n%s", code, out, errOut)
	}
}
