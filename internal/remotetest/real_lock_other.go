//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package remotetest

// lockProcess does nothing here: run one package's tests at a time (go
// test -p 1) against a real StarbaseDB.
func lockProcess(string) error { return nil }
