package replica_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litepull/litepull/replica"
)

// envLockChild makes this test binary a child that takes the lock of the
// replica named, says so, and holds it until killed.
const envLockChild = "LITEPULL_LOCK_CHILD_REPLICA"

func TestLockHolderChild(t *testing.T) {
	path := os.Getenv(envLockChild)
	if path == "" {
		t.Skip("helper process for TestLockAcrossProcesses")
	}
	if _, err := replica.Lock(context.Background(), path, "lock test child", 0); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	select {}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	unlock, err := replica.Lock(ctx, path, "litepull serve", 0)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ErrLocked", func(t *testing.T) {
		_, err := replica.Lock(ctx, path, "litepull run", 0)
		var le *replica.LockedError
		if !errors.As(err, &le) || !errors.Is(err, replica.ErrLocked) {
			t.Fatalf("second writer = %v, want a *LockedError", err)
		}
		want := fmt.Sprintf("replica %s is held by litepull serve (pid %d, since ", path, os.Getpid())
		if !strings.HasPrefix(err.Error(), want) || le.Holder == nil || le.Holder.Since.IsZero() {
			t.Fatalf("error %q, want it to start %q", err, want)
		}
	})

	t.Run("ReadersTakeNoLock", func(t *testing.T) {
		r, err := replica.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.States(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("WaitEndsWithContext", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		_, err := replica.Lock(c, path, "litepull run", time.Hour)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, replica.ErrLocked) {
			t.Fatalf("cancelled wait = %v, want ErrLocked and context.Canceled", err)
		}
	})

	t.Run("WaiterGetsItWhenReleased", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			u, err := replica.Lock(ctx, path, "litepull run", time.Minute)
			if err == nil {
				err = u()
			}
			got <- err
		}()
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil { // twice is safe
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("waiting writer after release: %v", err)
		}
	})

	t.Run("MemoryNeedsNone", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if _, err := replica.Lock(ctx, ":memory:", "x", 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(replica.LockPath(":memory:")); err == nil {
			t.Fatal("a lock file was made for :memory:")
		}
	})
}

// TestLockAcrossProcesses takes the lock in a child process: a writer here
// is refused with the child's name and pid; after the child is SIGKILLed
// the next writer gets the lock, and no stale name is reported.
func TestLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	child := exec.Command(os.Args[0], "-test.run=^TestLockHolderChild$")
	child.Env = append(os.Environ(), envLockChild+"="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q", line)
	}

	_, err = replica.Lock(context.Background(), path, "litepull run", 0)
	want := fmt.Sprintf("held by lock test child (pid %d, since ", child.Process.Pid)
	if !errors.Is(err, replica.ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("writer while the child holds the lock = %v, want it to say %q", err, want)
	}

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	unlock, err := replica.Lock(context.Background(), path, "litepull run", 0)
	if err != nil {
		t.Fatalf("writer after the holder was killed: %v", err)
	}
	defer unlock()
	data, err := os.ReadFile(replica.LockPath(path))
	if err != nil || !strings.Contains(string(data), `"litepull run"`) || strings.Contains(string(data), "lock test child") {
		t.Fatalf("lock file after a new writer took over: %q %v, want its own record only", data, err)
	}
}

// TestLockSameFileByAnyPath: a symlinked path to the replica, or deleting
// the holder's record file, must not let a second writer in.
func TestLockSameFileByAnyPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	unlock, err := replica.Lock(context.Background(), path, "litepull serve", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	other := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, other); err != nil {
		t.Fatal(err)
	}
	if u, err := replica.Lock(context.Background(), other, "litepull run", 0); !errors.Is(err, replica.ErrLocked) || !strings.Contains(err.Error(), "litepull serve") {
		if u != nil {
			u()
		}
		t.Fatalf("lock through a symlink: %v; want ErrLocked naming litepull serve", err)
	}
	if runtime.GOOS != "linux" {
		return // elsewhere the lock lives in the record file
	}
	if err := os.Remove(replica.LockPath(path)); err != nil {
		t.Fatal(err)
	}
	if u, err := replica.Lock(context.Background(), path, "litepull run", 0); !errors.Is(err, replica.ErrLocked) {
		if u != nil {
			u()
		}
		t.Fatalf("lock after the record file was deleted: %v; want ErrLocked", err)
	}
}
