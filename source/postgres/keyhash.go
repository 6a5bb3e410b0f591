package postgres

import (
	"fmt"
	"strings"

	"github.com/litepull/litepull"
)

// keyFormat is the SQL, with %[1]s for the quoted column, of one value's
// part of the canonical key text of litepull.KeyMD5: a type letter, the
// length of the text, ':', and the text exactly as the codec stores the
// value in the replica. "" when no SQL renders it exactly.
func keyFormat(oid uint32, c codec) string {
	var tag, text string
	switch {
	case oid == oidInt2 || oid == oidInt4 || oid == oidInt8 || oid == oidOID:
		tag, text = "i", "%[1]s::text"
	case oid == oidBool:
		tag, text = "i", "%[1]s::int::text"
	case oid == oidBytea:
		tag, text = "b", "encode(%[1]s, 'hex')"
	case oid == oidTimestampTZ:
		tag, text = "t", `CASE WHEN isfinite(%[1]s) THEN to_char(%[1]s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') ELSE %[1]s::text END`
	case oid == oidTimestamp:
		tag, text = "t", `CASE WHEN isfinite(%[1]s) THEN to_char(%[1]s, 'YYYY-MM-DD"T"HH24:MI:SS.US') ELSE %[1]s::text END`
	case oid == oidDate:
		tag, text = "t", `CASE WHEN isfinite(%[1]s) THEN to_char(%[1]s, 'YYYY-MM-DD') ELSE %[1]s::text END`
	case oid == oidTime:
		tag, text = "t", "to_char(%[1]s::interval, 'HH24:MI:SS.US')"
	case oid == oidUUID:
		tag, text = "t", "%[1]s::text"
	case c.cast != "":
		tag, text = "t", strings.ReplaceAll(c.cast, "%s", "%[1]s")
	case c.format == textFormat && c.affinity == litepull.AffText:
		// concat() writes a value with its type's output function, the
		// text the wire carries: char(n) keeps its padding, which a cast
		// to text would strip.
		tag, text = "t", "concat(%[1]s)"
	default:
		// float4 and float8: Postgres' shortest text and Go's differ in
		// form (1e+20, 1e20); a float key is looked up instead.
		return ""
	}
	return fmt.Sprintf("'%s' || length(%s) || ':' || %s", tag, text, text)
}

// KeyHash is HashMD5 when every key column has a canonical text in SQL.
func (s *Source) KeyHash(schema *litepull.TableSchema, pk []string) litepull.KeyHash {
	if _, err := s.keyText(schema, pk); err != nil {
		return litepull.HashNone
	}
	return litepull.HashMD5
}

// keyText renders the canonical text of the key of a row in SQL.
func (s *Source) keyText(schema *litepull.TableSchema, pk []string) (string, error) {
	s.mu.Lock()
	all := s.codecs[schema.Name]
	s.mu.Unlock()
	if len(all) != len(schema.Columns) {
		return "", fmt.Errorf("read %s: table not described", schema.Name)
	}
	parts := make([]string, len(pk))
	for i, name := range pk {
		idx := -1
		for j, c := range schema.Columns {
			if c.Name == name {
				idx = j
			}
		}
		if idx < 0 || all[idx].key == "" {
			return "", fmt.Errorf("%s: key column %q has no canonical text", schema.Name, name)
		}
		if err := litepull.CheckIdent("primary key column", name); err != nil {
			return "", err
		}
		parts[i] = fmt.Sprintf(all[idx].key, litepull.QuoteIdent(name, '"'))
	}
	return strings.Join(parts, " || "), nil
}

// keyMD5SQL is litepull.KeyMD5 of a row's key in SQL: the first 32 bits
// of the MD5 of its canonical text, in UTF-8 whatever the server's
// encoding, as an unsigned bigint.
func keyMD5SQL(text string) string {
	return fmt.Sprintf("('x' || substr(md5(convert_to(%s, 'UTF8')), 1, 8))::bit(32)::bigint", text)
}
