package replica

import (
	"fmt"
	"os"
)

// syncWAL makes every commit so far durable: it syncs the write-ahead log
// to disk. The replica commits with synchronous=NORMAL, which keeps each
// commit atomic but lets a power cut forget the last ones; a caller that
// must not lose a commit (Batch.Sync: a change stream is about to tell its
// source a position) has its commit followed by this. SQLite's own
// synchronous=FULL would do the same, but cannot be switched on inside the
// transaction where the caller learns it needs it. Commits a checkpoint
// already copied are synced in the database file by the checkpoint.
func (r *Replica) syncWAL() error {
	wal := r.path + "-wal"
	f, err := os.OpenFile(wal, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sync the replica's write-ahead log %s: %w", wal, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync the replica's write-ahead log %s: %w", wal, err)
	}
	if onWALSync != nil {
		onWALSync(wal)
	}
	return nil
}

// onWALSync, for tests, sees each sync of the write-ahead log.
var onWALSync func(path string)
