package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/litepull/litepull"
)

// streamTable is a configured table as the catalog names it.
type streamTable struct {
	name   string // as configured
	oid    uint32
	schema string // pg_namespace.nspname
	rel    string // pg_class.relname
}

func (t streamTable) quoted() string { return litepull.QuoteQualified([]string{t.schema, t.rel}, '"') }

const streamTableSQL = `
SELECT c.oid::int8::text, n.nspname, c.relname, c.relkind::text, c.relreplident::text,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND NOT i.indimmediate)::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1)`

// streamTables finds the configured tables and checks that each one's
// updates and deletes name their rows: a primary key (replica identity
// DEFAULT) or whole old rows (FULL), and that the key is not DEFERRABLE.
func (s *Source) streamTables(ctx context.Context, names []string) ([]streamTable, error) {
	var out []streamTable
	seen := map[uint32]string{}
	for _, name := range names {
		t, err := s.streamTable(ctx, name)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[t.oid]; dup {
			return nil, fmt.Errorf("tables %s and %s are the same table %s: list it once", other, name, t.quoted())
		}
		seen[t.oid] = name
		out = append(out, t)
	}
	return out, nil
}

func (s *Source) streamTable(ctx context.Context, name string) (streamTable, error) {
	quoted, err := s.qualify(name)
	if err != nil {
		return streamTable{}, err
	}
	t := streamTable{name: name}
	var kind, identity, hasPK, deferrable string
	err = s.exec(ctx, streamTableSQL, []any{quoted}, nil, func(v [][]byte) error {
		oid, err := strconv.ParseUint(string(v[0]), 10, 32)
		t.oid, t.schema, t.rel = uint32(oid), string(v[1]), string(v[2])
		kind, identity, hasPK, deferrable = string(v[3]), string(v[4]), string(v[5]), string(v[6])
		return err
	})
	if err != nil {
		return streamTable{}, fmt.Errorf("look up table %s: %w", name, err)
	}
	// What is wrong with one table is that table's error alone
	// (*litepull.TableError): the others can stream without it.
	var problem error
	switch {
	case t.oid == 0:
		problem = fmt.Errorf("%w: %s (looked up as %s)", litepull.ErrNoTable, name, quoted)
	case kind != "r" && kind != "p":
		problem = fmt.Errorf("%s is not a table (relkind %s): only tables' changes can be streamed", name, kind)
	case deferrable == "true":
		problem = deferrableError(name, t.quoted())
	default:
		problem = identityError(name, t.quoted(), identity, hasPK == "true")
	}
	if problem != nil {
		return streamTable{}, &litepull.TableError{SourceID: s.id, Table: name, Err: problem}
	}
	return t, nil
}

// deferrableError says why a table whose primary key is DEFERRABLE cannot
// be streamed. Postgres takes no deferrable key as replica identity, so
// publishing the table would make the application's every UPDATE and
// DELETE of it fail; and under REPLICA IDENTITY FULL a transaction may
// hold two rows with one key until it commits (a swap of two keys in one
// statement), which a replica keyed on it cannot follow: a row is lost.
func deferrableError(name, quoted string) error {
	return fmt.Errorf("the primary key of %s is DEFERRABLE: Postgres does not use it as replica identity, and a transaction may hold "+
		"two rows with one key until it commits, which a replica keyed on it cannot follow; drop the key of %s and add it again NOT DEFERRABLE, "+
		"or poll the table (a source with changes: cursor)", name, quoted)
}

// identityError says why a table's changes cannot be streamed, if they
// cannot: its replica identity (pg_class.relreplident) must be DEFAULT with
// a primary key, or FULL.
func identityError(name, quoted, identity string, hasPK bool) error {
	fix := "ALTER TABLE " + quoted + " REPLICA IDENTITY FULL"
	switch {
	case identity == "f", identity == "d" && hasPK:
		return nil
	case identity == "d":
		return fmt.Errorf("%w: %s has none, so its updates and deletes cannot name their rows in a change stream: "+
			"add one, or %s (then old rows are sent whole)", litepull.ErrNoPrimaryKey, name, fix)
	case identity == "n":
		return fmt.Errorf("%s has REPLICA IDENTITY NOTHING, so its updates and deletes cannot be streamed: "+
			"ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key), or %s", name, quoted, fix)
	}
	return fmt.Errorf("%s has REPLICA IDENTITY USING INDEX, which litepull does not stream: "+
		"ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key), or %s", name, quoted, fix)
}

// publishAll is what litepull's publications publish.
const publishAll = "publish = 'insert, update, delete, truncate', publish_via_partition_root = true"

const publicationSQL = `
SELECT p.oid::int8::text, p.puballtables::text, pg_has_role(p.pubowner, 'USAGE')::text, pg_get_userbyid(p.pubowner)::text,
       (p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AND p.pubviaroot)::text,
       EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid
               AND ((to_jsonb(r) ->> 'prqual') IS NOT NULL OR (to_jsonb(r) ->> 'prattrs') IS NOT NULL))::text
FROM pg_publication p WHERE p.pubname = $1`

// publishedSQL lists what a publication publishes, schemas' tables
// included.
const publishedSQL = `
SELECT c.oid::int8::text
FROM pg_publication_tables t
JOIN pg_namespace n ON n.nspname = t.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
WHERE t.pubname = $1`

// publication is a publication as the catalog shows it.
type publication struct {
	exists    bool
	allTables bool
	owned     bool            // the source's role may alter it
	owner     string          // its owner's name
	complete  bool            // publishes every kind of change, partitions as their root
	filtered  bool            // has row filters or column lists
	tables    map[uint32]bool // by oid
}

// ensurePublication creates the publication for exactly tables, or makes
// the existing one hold exactly them. It returns the tables (configured
// names) it did not hold, or did not publish whole: their changes before
// now are not in the stream.
func (s *Source) ensurePublication(ctx context.Context, name string, tables []streamTable) ([]string, error) {
	quoted := litepull.QuoteIdent(name, '"')
	list := make([]string, len(tables))
	for i, t := range tables {
		list[i] = t.quoted()
	}
	p, err := s.publication(ctx, name)
	if err != nil {
		return nil, err
	}
	var stmts []string
	switch {
	case !p.exists:
		stmts = []string{fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (%s)", quoted, strings.Join(list, ", "), publishAll)}
	case p.allTables:
		return nil, fmt.Errorf("publication %s is FOR ALL TABLES, and litepull's publication must hold exactly the configured tables: "+
			"name another publication", name)
	case p.complete && !p.filtered && p.holdsExactly(tables):
		return nil, nil
	case !p.owned:
		return nil, fmt.Errorf("publication %s must hold exactly %s, and only its owner %s may change it: "+
			"as %s, ALTER PUBLICATION %s SET TABLE %s; or name another publication",
			name, strings.Join(list, ", "), p.owner, p.owner, quoted, strings.Join(list, ", "))
	default:
		stmts = []string{fmt.Sprintf("ALTER PUBLICATION %s SET (%s)", quoted, publishAll),
			fmt.Sprintf("ALTER PUBLICATION %s SET TABLE %s", quoted, strings.Join(list, ", "))}
	}
	for _, q := range stmts {
		if err := s.exec(ctx, q, nil, nil, func([][]byte) error { return nil }); err != nil {
			if isCode(err, "42501") { // insufficient_privilege
				err = s.publicationPrivilegeError(ctx, name, tables, p.exists, err)
			}
			return nil, fmt.Errorf("publish tables %s in publication %s: %w", strings.Join(list, ", "), name, err)
		}
	}
	return p.missing(tables), nil
}

const privilegeSQL = `
SELECT current_user::text, current_database()::text, has_database_privilege(current_database(), 'CREATE')::text,
       COALESCE((SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner)::text, ', ')
                 FROM pg_class c WHERE c.oid = ANY(string_to_array($1, ',')::oid[])), '')`

// publicationPrivilegeError explains a refusal to make or change the
// publication: Postgres lets only the owner of every table put it in a
// publication, and a role without CREATE on the database make one. It
// says what to grant, and how the tables' owner makes the publication by
// hand, which litepull then uses as it is.
func (s *Source) publicationPrivilegeError(ctx context.Context, name string, tables []streamTable, exists bool, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelWait)
	defer cancel()
	oids := make([]string, len(tables))
	list := make([]string, len(tables))
	for i, t := range tables {
		oids[i], list[i] = strconv.FormatUint(uint64(t.oid), 10), t.quoted()
	}
	var role, db, owners string
	canCreate := true
	qerr := s.exec(ctx, privilegeSQL, []any{strings.Join(oids, ",")}, nil, func(v [][]byte) error {
		role, db, canCreate, owners = string(v[0]), string(v[1]), string(v[2]) == "true", string(v[3])
		return nil
	})
	if qerr != nil {
		return err
	}
	verb, grant := "change", ""
	if !exists {
		verb = "create"
		if !canCreate {
			grant = fmt.Sprintf("; making a publication also needs GRANT CREATE ON DATABASE %s TO %s", litepull.QuoteIdent(db, '"'), role)
		}
	}
	return fmt.Errorf("%w: role %s may not %s publication %s: only the owner of every table may publish it, and the tables are owned by %s%s. "+
		"Connect as %s (or a superuser); or make the publication by hand with exactly these tables, as %s: "+
		"CREATE PUBLICATION %s FOR TABLE %s WITH (%s); litepull then streams from it as it is",
		err, role, verb, name, owners, grant, owners, owners, litepull.QuoteIdent(name, '"'), strings.Join(list, ", "), publishAll)
}

// missing lists the tables the publication did not publish whole before
// it was made or changed: every one, unless it published every kind of
// change, unfiltered, of the tables it held.
func (p publication) missing(tables []streamTable) []string {
	var out []string
	for _, t := range tables {
		if !p.exists || !p.complete || p.filtered || !p.tables[t.oid] {
			out = append(out, t.name)
		}
	}
	return out
}

// holdsExactly reports whether the publication publishes tables and no
// others.
func (p publication) holdsExactly(tables []streamTable) bool {
	if len(p.tables) != len(tables) {
		return false
	}
	return !slices.ContainsFunc(tables, func(t streamTable) bool { return !p.tables[t.oid] })
}

// publication reads the publication called name.
func (s *Source) publication(ctx context.Context, name string) (publication, error) {
	p := publication{tables: map[uint32]bool{}}
	err := s.exec(ctx, publicationSQL, []any{name}, nil, func(v [][]byte) error {
		p.exists, p.allTables, p.owned = true, string(v[1]) == "true", string(v[2]) == "true"
		p.owner, p.complete, p.filtered = string(v[3]), string(v[4]) == "true", string(v[5]) == "true"
		return nil
	})
	if err == nil && p.exists {
		err = s.exec(ctx, publishedSQL, []any{name}, nil, func(v [][]byte) error {
			oid, err := strconv.ParseUint(string(v[0]), 10, 32)
			p.tables[uint32(oid)] = true
			return err
		})
	}
	if err != nil {
		return publication{}, fmt.Errorf("look up publication %s: %w", name, err)
	}
	return p, nil
}
