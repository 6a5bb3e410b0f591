//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package remotetest

import (
	"errors"
	"os"
	"syscall"
)

// lockProcess takes an exclusive flock on path, waiting for it, and keeps
// it until the process exits.
func lockProcess(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	realLockFile = f // never closed: the lock lasts as long as the process
	return nil
}

var realLockFile *os.File
