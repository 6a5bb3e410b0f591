package litepull

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// KeyMD5 is the HashMD5 hash of a key as the replica stores it: the first
// four bytes, big-endian, of the MD5 of the key's canonical text.
//
// The canonical text writes each value as a type letter, the length of
// its text in characters, a colon and the text:
//
//	int64    i  decimal                      i3:123
//	string   t  the string itself            t5:héllo
//	[]byte   b  lowercase hex                b4:00ff
//	float64  f  shortest round-trip 'g'      f3:2.5
//	nil      n  (no length, no text)         n
//
// Length-prefixing makes the text of a composite key unambiguous whatever
// its strings hold (no separator can be "one that never occurs"), and the
// type letter keeps 1 and '1' apart. A Postgres or MySQL source renders
// the same text in SQL from its own column values, converting each type to
// the replica's form (timestamps as ISO-8601 text, uuid as lowercase text,
// bytes as hex...); a type it cannot render exactly has no hash
// (HashNone).
func KeyMD5(key []Value) int64 {
	sum := md5.Sum(KeyText(nil, key))
	return int64(binary.BigEndian.Uint32(sum[:4]))
}

// KeyText appends the canonical text of key (see KeyMD5) to dst.
func KeyText(dst []byte, key []Value) []byte {
	for _, v := range key {
		var tag byte
		var text string
		switch v := v.(type) {
		case nil:
			dst = append(dst, 'n')
			continue
		case int64:
			tag, text = 'i', strconv.FormatInt(v, 10)
		case string:
			tag, text = 't', v
		case []byte:
			tag, text = 'b', hex.EncodeToString(v)
		case float64:
			tag, text = 'f', strconv.FormatFloat(v, 'g', -1, 64)
		default:
			tag, text = '?', fmt.Sprint(v)
		}
		dst = append(dst, tag)
		dst = strconv.AppendInt(dst, int64(utf8.RuneCountInString(text)), 10)
		dst = append(dst, ':')
		dst = append(dst, text...)
	}
	return dst
}
