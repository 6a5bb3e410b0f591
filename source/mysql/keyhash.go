package mysql

import (
	"fmt"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
)

// keyPart renders one value's part of the canonical key text of
// litepull.KeyMD5 in SQL: a type letter, the length of the text in
// characters, ':', and the text exactly as the column's kind stores the
// value in the replica. ok is false when no SQL renders it exactly.
//
// The text goes into the concatenation as BINARY, its UTF-8 bytes: MD5
// hashes bytes, and binary strings cannot raise "illegal mix of
// collations" between a column's collation and the connection's.
func (c column) keyPart(quoted string) (sql string, ok bool) {
	tag := "'t'"
	var text string
	switch c.kind {
	case kInt:
		tag, text = "'i'", "CAST(%[1]s AS CHAR)"
	case kUint64:
		// Above 2^63-1 the replica keeps the decimal text.
		tag, text = "IF("+quoted+" > 9223372036854775807, 't', 'i')", "CAST(%[1]s AS CHAR)"
	case kDecimal:
		text = "CAST(%[1]s AS CHAR)"
	case kText:
		// The driver reads text in the connection's utf8mb4.
		text = "CONVERT(%[1]s USING utf8mb4)"
	case kBlob:
		tag, text = "'b'", "LOWER(HEX(%[1]s))"
	case kDateTime:
		text = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f')"
	case kStamp:
		text = "DATE_FORMAT(%[1]s, '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ')" // the session is UTC
	default:
		// FLOAT and DOUBLE (MySQL's shortest text and Go's differ in
		// form), BIT: such keys are looked up instead.
		return "", false
	}
	text = fmt.Sprintf(text, quoted)
	return fmt.Sprintf("%s, CHAR_LENGTH(%s), ':', CAST(%s AS BINARY)", tag, text, text), true
}

// KeyHash is HashSQLite for a key of signed integers (plain arithmetic:
// cheaper than MD5), else HashMD5 when every key column has a canonical
// text in SQL, else HashNone.
func (s *Source) KeyHash(schema *litepull.TableSchema, pk []string) litepull.KeyHash {
	return keyhash.Kind(s.keyHashSQL(schema, pk))
}

// keyHashSQL renders the hash of a row's key in SQL.
func (s *Source) keyHashSQL(schema *litepull.TableSchema, pk []string) (litepull.KeyHash, string, error) {
	h, ok := schema.Handle.(*handle)
	if !ok {
		// Built by hand: no hash, here and in CountRanges alike.
		return litepull.HashNone, "", fmt.Errorf("%s: schema not from Describe", schema.Name)
	}
	_, byName, _, sel, err := s.selection(h, schema, pk)
	if err != nil {
		return litepull.HashNone, "", err
	}
	ints, parts := make([]string, len(pk)), make([]string, len(pk))
	allInts := true
	for i, name := range pk {
		c := byName[name]
		part, ok := c.keyPart(sel[i])
		if !ok {
			return litepull.HashNone, "", fmt.Errorf("%s: key column %q has no canonical text", schema.Name, name)
		}
		parts[i] = part
		ints[i] = "CAST(" + sel[i] + " AS SIGNED)"
		allInts = allInts && c.kind == kInt
	}
	if allInts {
		// MySQL's ^ binds tighter than *: IntSQL parenthesizes everything.
		return litepull.HashSQLite, keyhash.IntSQL(ints, func(a, b string) string { return "(" + a + " ^ " + b + ")" }), nil
	}
	// litepull.KeyMD5: the first 32 bits of the MD5 of the canonical text,
	// as an unsigned integer.
	return litepull.HashMD5, fmt.Sprintf("CAST(CONV(SUBSTRING(MD5(CONCAT(%s)), 1, 8), 16, 10) AS UNSIGNED)", strings.Join(parts, ", ")), nil
}
