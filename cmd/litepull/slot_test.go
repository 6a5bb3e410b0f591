package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// fakeSlots is a Postgres source that records the slots it is asked to
// drop.
type fakeSlots struct {
	failedSource
	mu      sync.Mutex
	dropped []litepull.ChangeOptions
	fail    error
}

func (f *fakeSlots) OpenChanges(context.Context, litepull.ChangeOptions) (litepull.ChangeStream, error) {
	return nil, errors.New("not in this test")
}

func (f *fakeSlots) DropChanges(_ context.Context, opts litepull.ChangeOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.Logger == nil {
		return errors.New("DropChanges without a logger: a wait for the slot would be silent")
	}
	opts.Logger = nil
	f.dropped = append(f.dropped, opts)
	return f.fail
}

// withFakePostgres makes the postgres kind open fake for the test.
func withFakePostgres(t *testing.T, fake *fakeSlots) {
	t.Helper()
	orig := sourceKinds["postgres"]
	sourceKinds["postgres"] = func(litepull.SourceConfig) (litepull.Source, error) { return fake, nil }
	t.Cleanup(func() { sourceKinds["postgres"] = orig })
}

// slotConfig has a streamed source pg (default slot), one with its own
// slot and publication, and a polled one.
func slotConfig(t *testing.T) (cfg, replicaPath string) {
	t.Helper()
	replicaPath = filepath.Join(t.TempDir(), "replica.db")
	return writeConfig(t, fmt.Sprintf(`
replica: %s
sources:
  - id: pg
    kind: postgres
    dsn: postgres://nobody@127.0.0.1:1/db
    changes: logical
  - id: named
    kind: postgres
    dsn: postgres://nobody@127.0.0.1:1/db
    changes: logical
    slot: my_slot
    publication: my_pub
  - id: polled
    kind: postgres
    dsn: postgres://nobody@127.0.0.1:1/db
    tables:
      - table: t
        cursorColumn: id
  - id: bin
    kind: mysql
    dsn: nobody@tcp(127.0.0.1:1)/db
    changes: binlog
`, replicaPath)), replicaPath
}

// TestSlotDrop drops the source's slot and publication, by the config's
// names or the defaults, while another process holds the replica: it
// neither needs nor takes its lock, and says what the next run does.
func TestSlotDrop(t *testing.T) {
	cfg, replicaPath := slotConfig(t)
	fake := &fakeSlots{}
	withFakePostgres(t, fake)
	unlock, err := replica.Lock(context.Background(), replicaPath, serveCommand, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tc := range []struct{ source, slot, publication string }{
		{"pg", "litepull_pg", "litepull_pg"},
		{"named", "my_slot", "my_pub"},
	} {
		code, out, errOut := runMain(t, "slot", "drop", "-config", cfg, "-source", tc.source)
		if code != 0 {
			t.Fatalf("slot drop -source %s exited %d\n%s%s", tc.source, code, out, errOut)
		}
		want := fmt.Sprintf("dropped replication slot %s and publication %s of source %s", tc.slot, tc.publication, tc.source)
		if !strings.Contains(out, want) || !strings.Contains(out, "copied again, from a new slot, on the next run") {
			t.Errorf("slot drop -source %s said:\n%s\nwant %q and what the next run does", tc.source, out, want)
		}
	}
	want := []litepull.ChangeOptions{{Slot: "litepull_pg", Publication: "litepull_pg"}, {Slot: "my_slot", Publication: "my_pub"}}
	if fmt.Sprint(fake.dropped) != fmt.Sprint(want) {
		t.Errorf("dropped %+v, want %+v", fake.dropped, want)
	}
}

// TestSlotDropRefuses: a source that does not stream, or is not in the
// config, is refused before anything is dropped; a failed drop says so.
func TestSlotDropRefuses(t *testing.T) {
	cfg, _ := slotConfig(t)
	fake := &fakeSlots{}
	withFakePostgres(t, fake)
	for _, tc := range []struct {
		source, want string
	}{
		{"polled", "source polled has no slot to drop: it polls its tables by cursor (only a source with changes: logical streams through a slot); " +
			"if it streamed before, its slot may still keep WAL at the source: name it with -slot (and -publication; both were litepull_polled"},
		{"nope", `no source "nope" in the config (it has pg, named, polled, bin); to drop the slot of a source taken out of the config, put it back`},
		{"bin", "source bin reads the binlog (changes: binlog), which holds no slot: there is nothing to drop"},
	} {
		code, out, errOut := runMain(t, "slot", "drop", "-config", cfg, "-source", tc.source)
		if code != 1 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("slot drop -source %s exited %d, want 1 and %q:\n%s%s", tc.source, code, tc.want, out, errOut)
		}
	}
	if len(fake.dropped) != 0 {
		t.Errorf("dropped %+v, want nothing", fake.dropped)
	}
	fake.fail = errors.New("replication slot \"litepull_pg\" is active for PID 77")
	code, out, errOut := runMain(t, "slot", "drop", "-config", cfg, "-source", "pg")
	if code != 1 || !strings.Contains(errOut, "stop it first") || !strings.Contains(errOut, "is active for PID 77") || strings.Contains(out, "dropped") {
		t.Errorf("a failed drop exited %d:\n%s%s", code, out, errOut)
	}
}

// TestSlotDropOfAPolledSource drops the slot a source left behind when it
// went back to polling, named on the command line.
func TestSlotDropOfAPolledSource(t *testing.T) {
	cfg, _ := slotConfig(t)
	fake := &fakeSlots{}
	withFakePostgres(t, fake)
	for _, args := range [][]string{{"-slot", "old_slot"}, {"-slot", "old_slot", "-publication", "old_pub"}} {
		code, out, errOut := runMain(t, append([]string{"slot", "drop", "-config", cfg, "-source", "polled"}, args...)...)
		if code != 0 || !strings.Contains(out, "dropped replication slot old_slot") {
			t.Fatalf("slot drop -source polled %v exited %d\n%s%s", args, code, out, errOut)
		}
	}
	want := []litepull.ChangeOptions{{Slot: "old_slot", Publication: "old_slot"}, {Slot: "old_slot", Publication: "old_pub"}}
	if fmt.Sprint(fake.dropped) != fmt.Sprint(want) {
		t.Errorf("dropped %+v, want %+v", fake.dropped, want)
	}
}
