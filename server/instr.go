package server

import (
	"bytes"
	"unicode/utf8"

	"github.com/ncruces/go-sqlite3"
)

// instr replaces SQLite's built-in instr() on the query endpoint's
// connections. The built-in compares the needle at every position, so a
// megabyte needle in a few megabytes of text runs for most of a minute,
// and SQLite cannot be interrupted inside a function call; this one finds
// the same position with Go's substring search in milliseconds. Same
// contract: NULL if either argument is NULL; for two BLOBs, one more than
// the bytes before the first occurrence; otherwise the same in characters
// of the arguments as text; 0 when not found.
func instr(ctx sqlite3.Context, arg ...sqlite3.Value) {
	if arg[0].Type() == sqlite3.NULL || arg[1].Type() == sqlite3.NULL {
		ctx.ResultNull()
		return
	}
	blobs := arg[0].Type() == sqlite3.BLOB && arg[1].Type() == sqlite3.BLOB
	var hay, needle []byte
	if blobs {
		hay, needle = arg[0].RawBlob(), arg[1].RawBlob()
	} else {
		hay, needle = arg[0].RawText(), arg[1].RawText()
	}
	i := bytes.Index(hay, needle)
	switch {
	case i < 0:
		ctx.ResultInt64(0)
	case blobs:
		ctx.ResultInt64(int64(i) + 1)
	default:
		ctx.ResultInt64(int64(utf8.RuneCount(hay[:i])) + 1)
	}
}

// overrideSlowBuiltins installs the Go versions of built-ins whose SQLite
// form can run for a minute on one call.
func overrideSlowBuiltins(c *sqlite3.Conn) error {
	return c.CreateFunction("instr", 2, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, instr)
}
