package postgres

import (
	"fmt"
	"strings"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/keyhash"
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

// intKeyFormat is the SQL, with %[1]s for the quoted column, of a column
// whose replica value is an integer, as a bigint; "" for other types.
func intKeyFormat(oid uint32) string {
	switch oid {
	case oidInt2, oidInt4, oidInt8, oidOID:
		return "%[1]s::bigint"
	case oidBool:
		return "%[1]s::int::bigint"
	}
	return ""
}

// KeyHash is HashSQLite for a key of integers (plain arithmetic: cheaper
// than MD5), else HashMD5 when every key column has a canonical text in
// SQL, else HashNone.
func (s *Source) KeyHash(schema *litepull.TableSchema, pk []string) litepull.KeyHash {
	return keyhash.Kind(s.keyHashSQL(schema, pk))
}

// keyHashSQL renders the hash of a row's key in SQL.
func (s *Source) keyHashSQL(schema *litepull.TableSchema, pk []string) (litepull.KeyHash, string, error) {
	t, ok := schema.Handle.(*handle)
	if !ok {
		// Built by hand: no hash, here and in CountRanges alike.
		return litepull.HashNone, "", fmt.Errorf("%s: schema not from Describe", schema.Name)
	}
	ints, texts := make([]string, len(pk)), make([]string, len(pk))
	allInts := true
	for i, name := range pk {
		c, ok := t.codecs[name]
		if !ok || c.key == "" {
			return litepull.HashNone, "", fmt.Errorf("%s: key column %q has no canonical text", schema.Name, name)
		}
		if err := litepull.CheckIdent("primary key column", name); err != nil {
			return litepull.HashNone, "", err
		}
		quoted := litepull.QuoteIdent(name, '"')
		texts[i] = fmt.Sprintf(c.key, quoted)
		if f := intKeyFormat(c.oid); f != "" {
			ints[i] = "(" + fmt.Sprintf(f, quoted) + ")"
		} else {
			allInts = false
		}
	}
	if allInts {
		return litepull.HashSQLite, keyhash.IntSQL(ints, func(a, b string) string { return "(" + a + " # " + b + ")" }), nil
	}
	// litepull.KeyMD5: the first 32 bits of the MD5 of the canonical text,
	// in UTF-8 whatever the server's encoding, as an unsigned bigint.
	text := strings.Join(texts, " || ")
	return litepull.HashMD5, fmt.Sprintf("('x' || substr(md5(convert_to(%s, 'UTF8')), 1, 8))::bit(32)::bigint", text), nil
}
