package mysql

import (
	"fmt"
	"strings"

	"github.com/litepull/litepull"
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

// KeyHash is HashMD5 when every key column has a canonical text in SQL.
func (s *Source) KeyHash(schema *litepull.TableSchema, pk []string) litepull.KeyHash {
	if _, err := s.keyMD5SQL(schema, pk); err != nil {
		return litepull.HashNone
	}
	return litepull.HashMD5
}

// keyMD5SQL is litepull.KeyMD5 of a row's key in SQL: the first 32 bits of
// the MD5 of its canonical text, as an unsigned integer.
func (s *Source) keyMD5SQL(schema *litepull.TableSchema, pk []string) (string, error) {
	_, byName, _, sel, err := s.selection(schema, pk)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(pk))
	for i, name := range pk {
		part, ok := byName[name].keyPart(sel[i])
		if !ok {
			return "", fmt.Errorf("%s: key column %q has no canonical text", schema.Name, name)
		}
		parts[i] = part
	}
	return fmt.Sprintf("CAST(CONV(SUBSTRING(MD5(CONCAT(%s)), 1, 8), 16, 10) AS UNSIGNED)", strings.Join(parts, ", ")), nil
}
