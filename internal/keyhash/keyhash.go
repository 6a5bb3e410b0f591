// Package keyhash is the key hash of litepull.HashSQLite: built from core
// SQLite (typeof, quote, length, substr, unicode, integer arithmetic, a
// recursive CTE), so that a remote SQLite service, which runs no custom
// function, can compute it; computed in Go (Hash) for the replica's keys.
// For a key of integers only it is plain 64-bit integer arithmetic, which
// Postgres and MySQL compute too (IntSQL).
package keyhash

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
)

// The hash. The replica computes it in Go (Hash) from its own copy of each
// key and the text its SQLite gives for quote(); TestHashMatchesSQL holds
// Go and SQL together. For one key (v0, v1, ...):
//
//  1. Integer values are folded arithmetically, without text: a0 is the
//     sum of fold(vi) * colWeight(i), modulo hashMod. An all-integer key
//     (the common case) costs a few operations.
//  2. Every other value (text, blob, real, NULL) is written as "i:" plus
//     quote(vi), which is unambiguous (quote escapes and delimits text,
//     writes blobs as X'..', and tells 1.0 from '1.0' from NULL); s is the
//     concatenation, and n its length in characters.
//  3. s, padded with hashChunk '~', is consumed hashChunk characters a step
//     by a recursive CTE: a = (a * chunkMul + sum of unicode(char j) *
//     charWeight(j)) % hashMod, a polynomial hash over every character
//     (so arbitrarily long keys are hashed whole, in bounded SQL text).
//  4. x = (a * lenMul + n) % hashMod is mixed, non-linearly: multiply
//     modulo 2^31, xor-shift, multiply modulo 2^31. Without that last step
//     the sum over a range would be linear in the keys, and ids 10 and 13
//     replaced by 11 and 12 would sum the same.
//
// Every intermediate value stays below 2^63, so SQLite never switches to
// floating point: weights are below 2^21, a and the code points below 2^31
// in magnitude. The hash is below 2^31; a range's checksum is the sum.
//
// Keys whose quote() text differs between the source's SQLite and the
// replica's (REALs, if their SQLite versions print them differently) only
// make ranges differ: their keys are then looked up, never guessed.
const (
	hashMod   = 2147483647 // 2^31 - 1, prime
	hashChunk = 16         // characters per recursive step
	chunkMul  = 1000033
	lenMul    = 1000003
	foldMul   = 1000003
	mix1      = 2654435761
	mix2      = 2246822519
	mask31    = 2147483647
	weightMod = 2097143 // 2^21 - 9, prime: weights stay below 2^21
)

// colWeight weighs the i-th key column's integer, so (1, 2) and (2, 1)
// differ.
func colWeight(i int) int64 { return 1 + (1000003*int64(i+1))%weightMod }

// charWeight weighs the j-th character of a step.
func charWeight(j int) int64 { return 1 + (40503*int64(j+1)*int64(j+7))%weightMod }

// fold maps a 64-bit integer below hashMod; 0 <= v < 2^31-1 maps to itself.
func fold(v int64) int64 { return (((v>>31)&8589934591)*foldMul + (v & mask31)) % hashMod }

func foldSQL(c string) string {
	return fmt.Sprintf("(((%[1]s >> 31) & 8589934591) * %[2]d + (%[1]s & %[3]d)) %% %[4]d", c, foldMul, mask31, hashMod)
}

// mix is step 4's mixing. SQL names x several times in it, so it runs on
// a column of the recursive CTE, not on an expression.
func mix(x int64) int64 {
	x = (x * mix1) & mask31
	x = x + x>>15 - 2*(x&(x>>15)) // x ^ (x >> 15); SQLite has no ^
	return (x * mix2) & mask31
}

// SQLite is the SQLite expression of the hash of the key in columns of the
// table aliased alias: a scalar subquery, correlated with the row. Columns
// are qualified, so that a key column named like one of the subquery's own
// (a, p, t, n, s) is still the table's.
func SQLite(alias string, columns []string) string {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = litepull.QuoteIdent(alias, '"') + "." + litepull.QuoteIdent(c, '"')
	}
	var a0, s []string
	for i, c := range quoted {
		a0 = append(a0, fmt.Sprintf("CASE WHEN typeof(%s) = 'integer' THEN %s * %d ELSE 0 END", c, foldSQL(c), colWeight(i)))
		s = append(s, fmt.Sprintf("CASE WHEN typeof(%s) = 'integer' THEN '' ELSE '%d:' || quote(%s) END", c, i, c))
	}
	terms := make([]string, hashChunk)
	for j := range terms {
		terms[j] = fmt.Sprintf("unicode(substr(r.t, %d, 1)) * %d", j+1, charWeight(j))
	}
	// Added pairwise: a chain of + would be as deep as it is long, and
	// services cap expression depth (StarbaseDB: 100).
	for len(terms) > 1 {
		var next []string
		for j := 0; j < len(terms); j += 2 {
			if j+1 < len(terms) {
				next = append(next, "("+terms[j]+" + "+terms[j+1]+")")
			} else {
				next = append(next, terms[j])
			}
		}
		terms = next
	}
	x := fmt.Sprintf("((a * %d + n) %% %d * %d) & %d", lenMul, hashMod, mix1, mask31)
	return fmt.Sprintf(`(WITH RECURSIVE r(a, p, t, n) AS (
SELECT (%s) %% %d, 1, s || '%s', length(s) FROM (SELECT %s AS s)
UNION ALL SELECT (r.a * %d + %s) %% %d, r.p + %d, substr(r.t, %d), r.n FROM r WHERE r.p <= r.n),
x(x) AS (SELECT %s FROM r WHERE p > n)
SELECT ((x + (x >> 15) - 2 * (x & (x >> 15))) * %d) & %d FROM x)`,
		strings.Join(a0, " + "), hashMod, strings.Repeat("~", hashChunk), strings.Join(s, " || "),
		chunkMul, terms[0], hashMod, hashChunk, hashChunk+1,
		x, mix2, mask31)
}

// IntSQL is the hash of a key of integers only (each quoted column a
// 64-bit signed integer expression) in any SQL that has bitwise and, shift
// right and xor (rendered by xor): no text, no recursion, and every step
// below 2^63, so no database overflows. Postgres and MySQL sum it for
// integer keys, far faster than MD5 of the text. MySQL shifts unsigned,
// SQLite and Postgres with the sign; masked to 33 bits, both give the same.
func IntSQL(quoted []string, xor func(a, b string) string) string {
	terms := make([]string, len(quoted))
	for i, c := range quoted {
		terms[i] = fmt.Sprintf("((((%[1]s >> 31) & 8589934591) * %[2]d + (%[1]s & %[3]d)) %% %[4]d) * %[5]d", c, foldMul, mask31, hashMod, colWeight(i))
	}
	// (a * lenMul + n) % hashMod with n = 0, then mix.
	x := fmt.Sprintf("((((((%s) %% %d) * %d) %% %d) * %d) & %d)", strings.Join(terms, " + "), hashMod, lenMul, hashMod, mix1, mask31)
	return fmt.Sprintf("((%s) * %d) & %d", xor(x, "("+x+" >> 15)"), mix2, mask31)
}

// Kind is a server source's KeyHash from its rendering of the hash in SQL
// (the kind, the SQL, and why it has none): HashNone when it has none.
func Kind(kind litepull.KeyHash, _ string, err error) litepull.KeyHash {
	if err != nil {
		return litepull.HashNone
	}
	return kind
}

// Checksum is the SQL of a key range's checksum from a server source's
// rendering of the hash (as Kind takes it): the sum of the hash over the
// range's rows, or 0 when the source has no hash.
func Checksum(_ litepull.KeyHash, hash string, err error) string {
	if err != nil {
		return "0"
	}
	return "COALESCE(SUM(" + hash + "), 0)"
}

// FuncName is the SQL function a connection of this process can register
// to compute Hash in Go, with the key's values then their QuoteSQL as
// arguments: a local SQLite source does, for speed.
const FuncName = "litepull_key_hash"

// FuncSQL calls FuncName on quoted (qualified) key columns.
func FuncSQL(quoted []string) string {
	args := append([]string(nil), quoted...)
	for _, c := range quoted {
		args = append(args, QuoteSQL(c))
	}
	return FuncName + "(" + strings.Join(args, ", ") + ")"
}

// QuoteSQL is what the replica selects for each key column to compute
// Hash: quote(c), or NULL for an integer (which Hash folds instead).
func QuoteSQL(quoted string) string {
	return fmt.Sprintf("CASE WHEN typeof(%[1]s) = 'integer' THEN NULL ELSE quote(%[1]s) END", quoted)
}

// Hash is the SQLite expression computed in Go: key holds the values, quoted what
// QuoteSQL gave for each (read for every value that is not an int64).
func Hash(key []litepull.Value, quoted []string) int64 {
	var a int64
	var buf [64]byte
	s := buf[:0]
	for i, v := range key {
		if n, ok := v.(int64); ok {
			a += fold(n) * colWeight(i)
			continue
		}
		s = strconv.AppendInt(s, int64(i), 10)
		s = append(s, ':')
		s = append(s, quoted[i]...)
	}
	a %= hashMod
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i] // SQLite reads text up to a NUL
	}
	n := int64(countChars(s))
	rest := s
	for p := int64(0); p < n; p += hashChunk {
		var sum int64
		for j := 0; j < hashChunk; j++ {
			c := int64('~') // the padding
			if len(rest) > 0 {
				var ch []byte
				ch, rest = nextChar(rest)
				c = unicodeOf(ch)
			}
			sum += c * charWeight(j)
		}
		a = (a*chunkMul + sum) % hashMod
	}
	return mix((a*lenMul + n) % hashMod)
}

// nextChar cuts the first character off s as SQLite's length() and
// substr() do: a byte from 0xc0 up and the continuation bytes (0x80-0xbf)
// after it, or any other single byte.
func nextChar(s []byte) (ch, rest []byte) {
	i := 1
	if s[0] >= 0xc0 {
		for i < len(s) && s[i]&0xc0 == 0x80 {
			i++
		}
	}
	return s[:i], s[i:]
}

// countChars counts the characters of s as nextChar cuts them.
func countChars(s []byte) int {
	n := 0
	for len(s) > 0 {
		_, s = nextChar(s)
		n++
	}
	return n
}

// utf8Trans1 is SQLite's table of the payload bits of a UTF-8 lead byte
// from 0xc0 (sqlite3Utf8Trans1).
var utf8Trans1 = [64]uint32{
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x00, 0x00,
}

// unicodeOf is SQLite's unicode() of one character (sqlite3Utf8Read,
// returned through an int): invalid sequences decode the way SQLite's do.
// SQLite before 3.4x also read U+FFFE and U+FFFF as U+FFFD; a key holding
// those noncharacters hashes differently there, and is looked up.
func unicodeOf(ch []byte) int64 {
	c := uint32(ch[0])
	if c >= 0xc0 {
		c = utf8Trans1[c-0xc0]
		for _, b := range ch[1:] {
			c = c<<6 + uint32(b&0x3f)
		}
		if c < 0x80 || c&0xFFFFF800 == 0xD800 {
			c = 0xFFFD
		}
	}
	return int64(int32(c))
}
