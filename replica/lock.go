package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrLocked reports a replica whose write lock another writer holds; the
// error is a *LockedError naming the holder.
var ErrLocked = errors.New("replica is held by another writer")

// lockPoll is how often a writer that waits for the lock tries again.
const lockPoll = 100 * time.Millisecond

// Holder is the writer holding a replica's lock, as it recorded itself in
// the lock file.
type Holder struct {
	Command string    `json:"command"` // "litepull serve", "litepull run", …
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
}

func (h *Holder) String() string {
	return fmt.Sprintf("%s (pid %d, since %s)", h.Command, h.PID, h.Since.UTC().Format(time.RFC3339))
}

// LockedError is the answer to a writer that found the replica held.
type LockedError struct {
	Path string
	// Holder is nil when the holder has not recorded itself yet.
	Holder *Holder
}

func (e *LockedError) Error() string {
	who := "another process (it has not said which yet)"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	return fmt.Sprintf("replica %s is held by %s", e.Path, who)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// LockPath is the file that carries a replica's write lock: the replica's
// name with ".lock" appended. It stays after the writer ends (removing it
// would let two writers lock two different files); its content is the last
// holder, rewritten by every new one.
func LockPath(path string) string { return path + ".lock" }

// Lock takes the write lock of the replica at path for the process, so that
// no other process (a daemon, a CLI run) writes it at the same time: two
// writers would each commit their own view of a table and its watermark,
// and rows would go stale for good. command names the writer to those it
// keeps out. If another process holds the lock, Lock tries again for up to
// wait (0: not at all, as long as ctx allows), then fails with a
// *LockedError. Readers take no lock.
//
// The lock is an OS file lock (flock), released by the kernel when the
// process ends however it ends, so a crashed writer never blocks the next
// one. A ":memory:" replica needs no lock. Call unlock when done writing.
func Lock(ctx context.Context, path, command string, wait time.Duration) (unlock func() error, err error) {
	if path == ":memory:" || path == "" || strings.Contains(path, "mode=memory") {
		return func() error { return nil }, nil
	}
	name := LockPath(path)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		name = LockPath(real) // a symlinked path shares the record (and lock) file
	}
	rec, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock replica %s: %w", path, err)
	}
	f := rec
	if lockOnReplica {
		// Opened through any path or symlink, the replica is one inode, and
		// deleting the holder record cannot let a second writer in.
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			rec.Close()
			return nil, fmt.Errorf("lock replica %s: %w", path, err)
		}
	}
	closeAll := func() error {
		if f != rec {
			f.Close()
		}
		return rec.Close()
	}
	if err := acquire(ctx, f, rec, path, wait); err != nil {
		return nil, errors.Join(err, closeAll())
	}
	// Record who holds it. A stale record of a dead holder is overwritten
	// here; it is read only by those that found the lock held.
	data, _ := json.Marshal(Holder{Command: command, PID: os.Getpid(), Since: time.Now().UTC()})
	if err := rec.Truncate(0); err == nil {
		_, err = rec.WriteAt(data, 0)
	}
	if err != nil {
		err = errors.Join(err, unlockFile(f), closeAll())
		return nil, fmt.Errorf("record the holder of replica %s in %s: %w", path, name, err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			err = errors.Join(rec.Truncate(0), unlockFile(f), closeAll()) // a clean exit leaves no holder behind
		})
		return err
	}, nil
}

// lockOnReplica: on Linux the flock is taken on the replica file itself.
// SQLite's own locks there are OFD fcntl locks, which flock does not touch;
// on the BSDs SQLite may flock the file itself, so the lock goes on the
// record file next to it.
const lockOnReplica = runtime.GOOS == "linux"

// acquire takes the lock on f, trying again until wait has passed; rec
// holds the holder's record.
func acquire(ctx context.Context, f, rec *os.File, path string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			return fmt.Errorf("lock replica %s: %w", path, err)
		}
		if ok {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &LockedError{Path: path, Holder: readHolder(rec)}
		}
		t := time.NewTimer(min(left, lockPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for %w: %w", &LockedError{Path: path, Holder: readHolder(rec)}, ctx.Err())
		case <-t.C:
		}
	}
}

// readHolder reads the record of the process holding the lock. A record
// that cannot be read, or names a process that is gone (a holder that has
// not written its own yet), gives nil rather than a wrong name.
func readHolder(f *os.File) *Holder {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(data) == 0 {
		return nil
	}
	var h Holder
	if err := json.Unmarshal(data, &h); err != nil || h.Command == "" || !processAlive(h.PID) {
		return nil
	}
	return &h
}
