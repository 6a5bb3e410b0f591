package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/catalog"
)

// relationSQL describes a Relation message's columns as describeSQL
// describes a table's: each type as format_type spells it with the
// message's type modifier, its base type and category (for its codec), and
// the column's number and place in the primary key from the catalog.
const relationSQL = `
WITH cols AS (
    SELECT c.name, c.typ, c.mod, COALESCE(a.attnum, 0) AS attnum, $1::oid AS rel, c.ord
    FROM unnest($2::oid[], $3::int4[], $4::text[]) WITH ORDINALITY AS c(typ, mod, name, ord)
    LEFT JOIN pg_attribute a ON a.attrelid = $1::oid AND a.attname = c.name AND a.atttypid = c.typ AND NOT a.attisdropped)` + columnsSQL

// describeRelation describes the table of a Relation message, each column
// with the codec the polling path would read it with. Positions come from
// the catalog as it is now, which a stream running behind a DROP and ADD
// of the same column can see ahead of its rows.
func (s *Source) describeRelation(ctx context.Context, table string, m *pglogrepl.RelationMessage) (*relation, error) {
	rel := &relation{table: table}
	schema := &litepull.TableSchema{Name: table}
	codecs := map[string]codec{}
	pk := catalog.Key{}
	oids, mods, names := make([]string, len(m.Columns)), make([]string, len(m.Columns)), make([]string, len(m.Columns))
	for i, c := range m.Columns {
		oids[i], mods[i], names[i] = strconv.FormatUint(uint64(c.DataType), 10), strconv.Itoa(int(c.TypeModifier)), arrayElem(c.Name)
	}
	args := []any{strconv.FormatUint(uint64(m.RelationID), 10), "{" + strings.Join(oids, ",") + "}",
		"{" + strings.Join(mods, ",") + "}", "{" + strings.Join(names, ",") + "}"}
	err := s.exec(ctx, relationSQL, args, nil, func(v [][]byte) error {
		if len(rel.columns) == len(m.Columns) {
			return fmt.Errorf("more columns than the message's %d", len(m.Columns))
		}
		col, c, ord, err := describedColumn(v)
		if err != nil {
			return err
		}
		codecs[col.Name] = c
		rel.columns, rel.codecs = append(rel.columns, col.Name), append(rel.codecs, c)
		schema.Columns = append(schema.Columns, col)
		pk.Add(ord, col.Name)
		return nil
	})
	if err == nil && len(rel.columns) != len(m.Columns) {
		err = fmt.Errorf("the catalog has %d of the message's %d column types (a type dropped since?)", len(rel.columns), len(m.Columns))
	}
	if err != nil {
		return nil, err
	}
	schema.PrimaryKey = relationKey(m, pk.Columns())
	for _, k := range schema.PrimaryKey {
		rel.key = append(rel.key, slices.Index(rel.columns, k))
	}
	schema.Handle = &handle{codecs: codecs}
	rel.schema = schema
	return rel, nil
}

// relationKey is the key of a Relation message's rows: the table's primary
// key (in its own order, as Describe gives it) when the message's key
// columns are it, or under REPLICA IDENTITY FULL, which flags every column
// and so says nothing of the key (a table without a primary key has none
// there, as in Describe); else the columns the message flags as the key.
func relationKey(m *pglogrepl.RelationMessage, pk []string) []string {
	if m.ReplicaIdentity == 'f' {
		return pk
	}
	var flagged []string
	for _, c := range m.Columns {
		if c.Flags&1 != 0 {
			flagged = append(flagged, c.Name)
		}
	}
	if len(pk) > 0 && sameSet(pk, flagged) {
		return pk
	}
	return flagged
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

// arrayElem quotes a string as an element of a Postgres array literal.
func arrayElem(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
