package litepull_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/litepull/litepull"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseConfig(t *testing.T) {
	cfg, err := litepull.ParseConfig([]byte(`
replica: ./r.db
sources:
  - id: pg
    kind: postgres
    dsn: ${PG_URL}
    settle: 5s
    lookback: 2m
    tables:
      - table: public.users
        cursorColumn: id
      - table: orders
        dest: orders_replica
        columns: [order_id, status]
        cursorColumn: updated_at
        primaryKey: [order_id]
        lookback: "500"
        timeZone: America/New_York
`), env(map[string]string{"PG_URL": "postgres://u:p@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sources[0]
	if s.DSN != "postgres://u:p@h/db" || s.PageSize != litepull.DefaultPageSize || time.Duration(s.Settle) != 5*time.Second || s.Lookback.Duration != 2*time.Minute {
		t.Fatalf("source = %+v", s)
	}
	if s.Tables[0].DestName() != "users" || s.Tables[1].DestName() != "orders_replica" || s.Tables[1].Lookback.Amount != 500 ||
		s.Tables[1].TimeZone != "America/New_York" {
		t.Fatalf("tables = %+v", s.Tables)
	}
}

// TestModesParse: mode and deletes read from YAML and JSON into their
// types.
func TestModesParse(t *testing.T) {
	cfg, err := litepull.ParseConfig([]byte(`
sources:
  - id: a
    kind: sqlite
    tables:
      - table: t
        mode: full
      - table: u
        mode: incremental
        deletes: reconcile
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	tables := cfg.Sources[0].Tables
	if tables[0].Mode != litepull.ModeFull || tables[1].Mode != litepull.ModeIncremental || tables[1].Deletes != litepull.DeletesReconcile {
		t.Fatalf("YAML tables = %+v", tables)
	}
	var tc litepull.TableConfig
	if err := json.Unmarshal([]byte(`{"table": "t", "mode": "full", "deletes": "reconcile"}`), &tc); err != nil {
		t.Fatal(err)
	}
	if tc.Mode != litepull.ModeFull || tc.Deletes != litepull.DeletesReconcile {
		t.Fatalf("JSON table = %+v", tc)
	}
}

// TestCheckChangesNothing: Check only checks, whether the config is good
// or not; ApplyDefaults fills in what Validate fills in.
func TestCheckChangesNothing(t *testing.T) {
	config := func(pageSize int) litepull.Config {
		return litepull.Config{Sources: []litepull.SourceConfig{{ID: "a", Kind: "postgres", DSN: "x", PageSize: pageSize,
			Tables: []litepull.TableConfig{{Table: "t", Deletes: litepull.DeletesReconcile}, {Table: "u", Mode: litepull.ModeFull}}}}}
	}
	for _, pageSize := range []int{0, -1} {
		c := config(pageSize)
		err := c.Check()
		if (err != nil) != (pageSize < 0) {
			t.Fatalf("pageSize %d: Check = %v", pageSize, err)
		}
		if want := config(pageSize); !reflect.DeepEqual(c, want) {
			t.Fatalf("pageSize %d: Check changed the config:\n%+v\nwant\n%+v", pageSize, c, want)
		}
	}

	validated, defaulted := config(0), config(0)
	if err := validated.Validate(); err != nil {
		t.Fatal(err)
	}
	defaulted.ApplyDefaults()
	if !reflect.DeepEqual(defaulted, validated) {
		t.Fatalf("ApplyDefaults:\n%+v\nValidate:\n%+v", defaulted, validated)
	}
	s := defaulted.Sources[0]
	if defaulted.Replica != litepull.DefaultReplica || s.PageSize != litepull.DefaultPageSize || s.RunBudget != litepull.DefaultRunBudget ||
		s.RunPages != litepull.DefaultRunPages || s.ConnectTimeout != litepull.DefaultConnectTimeout || s.ReadTimeout != litepull.DefaultReadTimeout ||
		s.Tables[0].ReconcileEvery != litepull.DefaultReconcileEvery || s.Tables[1].ReconcileEvery != 0 {
		t.Fatalf("defaults not filled in: %+v", defaulted)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml, want string
		err        error
	}{
		"MissingEnv":            {"sources:\n- id: a\n  kind: postgres\n  dsn: ${NOPE}\n", "NOPE is not set", nil},
		"UnknownKey":            {"sources:\n- id: a\n  kind: postgres\n  pagesize: 3\n", "pagesize", nil},
		"NoSources":             {"replica: x.db\n", "no sources", nil},
		"DuplicateID":           {"sources:\n- id: a\n  kind: sqlite\n- id: a\n  kind: sqlite\n", "duplicate id", nil},
		"BadPageSize":           {"sources:\n- id: a\n  kind: sqlite\n  pageSize: -1\n", "less than 1", nil},
		"BadTable":              {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: \"x y\"\n", "x y", litepull.ErrBadIdentifier},
		"BadColumn":             {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    columns: [ok, \"no-t\"]\n", "no-t", litepull.ErrBadIdentifier},
		"BadDest":               {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    dest: \"1x\"\n", "1x", litepull.ErrBadIdentifier},
		"BadDuration":           {"sources:\n- id: a\n  kind: sqlite\n  settle: soon\n", "not a duration", nil},
		"BadLookback":           {"sources:\n- id: a\n  kind: sqlite\n  lookback: lots\n", "lookback", nil},
		"DuplicateDest":         {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: s1.t\n  - table: s2.t\n", "also the destination", nil},
		"DestDiffersOnlyInCase": {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: Users\n  - table: s.users\n", "ignore case", nil},
		"DestAcrossSources":     {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n- id: b\n  kind: sqlite\n  tables:\n  - table: t\n", "also the destination of a/t", nil},
		"TableListedTwice":      {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n  - table: t\n    dest: t2\n", "listed twice", nil},
		"MissingTableName":      {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - dest: x\n", "missing", nil},
		"ReplicaURI":            {"replica: file:r.db?mode=rwc\nsources:\n- id: a\n  kind: sqlite\n", "file path", nil},
		"MissingKind":           {"sources:\n- id: a\n", "kind", nil},
		"BadTimeZone":           {"sources:\n- id: a\n  kind: mysql\n  timeZone: EST-ish\n", `timeZone: unknown time zone "EST-ish"`, nil},
		"LocalTimeZone":         {"sources:\n- id: a\n  kind: mysql\n  tables:\n  - table: t\n    timeZone: Local\n", "timeZone", nil},
		"ZeroPageSize":          {"sources:\n- id: a\n  kind: sqlite\n  pageSize: 0\n", "less than 1", nil},
		"ZeroTablePage":         {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    pageSize: 0\n", `table "t" pageSize`, nil},
		"HugePageSize":          {"sources:\n- id: a\n  kind: sqlite\n  pageSize: 1000000000\n", "more than 1000000", nil},
		"HugeTablePage":         {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    pageSize: 1000001\n", "more than 1000000", nil},
		"UnknownMode":           {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    mode: Full\n", `unknown mode "Full"`, nil},
		"UnknownDeletes":        {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    deletes: always\n", `unknown value "always"`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := litepull.ParseConfig([]byte(tc.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
			var ce *litepull.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestExpandEnvLeavesOtherDollarsAlone(t *testing.T) {
	out, err := litepull.ExpandEnv("a: $HOME ${X} $${X}", env(map[string]string{"X": "1"}))
	if err != nil || out != "a: $HOME 1 $1" {
		t.Fatalf("ExpandEnv = %q, %v", out, err)
	}
}

func TestExpandEnvDefaults(t *testing.T) {
	lookup := env(map[string]string{"SET": "v", "EMPTY": ""})
	for in, want := range map[string]string{
		"${SET:-d}":               "v",
		"${EMPTY:-d}":             "d",
		"${UNSET:-d}":             "d",
		"${UNSET:-}":              "",
		"${EMPTY:-}x":             "x",
		"a${SET}b${UNSET:-c/d:e}": "avbc/d:e",
	} {
		if got, err := litepull.ExpandEnv(in, lookup); err != nil || got != want {
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"${EMPTY}": "EMPTY is empty",
		"${UNSET}": "UNSET is not set",
	} {
		if _, err := litepull.ExpandEnv(in, lookup); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":-") {
			t.Errorf("ExpandEnv(%q) error = %v; want %q and the ${VAR:-default} form", in, err, want)
		}
	}
}

// TestConfigEnvOnlyInValues: ${VAR} in a comment is left alone (a
// commented-out DSN whose variable is not set is no error), a value is
// expanded whatever it holds, and an empty variable is an error naming
// where it is used.
func TestConfigEnvOnlyInValues(t *testing.T) {
	yaml := `
sources:
  - id: a
    kind: postgres
    # dsn: ${OLD_PG_URL}   the old database, kept for reference
    dsn: ${PG_URL}
    pageSize: ${PAGE:-250}
    schema: ${SCHEMA:-public}
    tables:
      - table: t   # ${NOT_SET_EITHER}
`
	lookup := env(map[string]string{"PG_URL": "postgres://u:p#1 ${X}@h/db"})
	cfg, err := litepull.ParseConfig([]byte(yaml), lookup)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sources[0]
	if s.DSN != "postgres://u:p#1 ${X}@h/db" || s.PageSize != 250 || s.Schema != "public" {
		t.Fatalf("source = %+v", s)
	}
	_, err = litepull.ParseConfig([]byte(yaml), env(map[string]string{"PG_URL": ""}))
	if err == nil || !strings.Contains(err.Error(), "sources[0].dsn") || !strings.Contains(err.Error(), "PG_URL is empty") {
		t.Fatalf("empty PG_URL: error = %v; want it named, with where it is used", err)
	}
}

// TestUnknownKeySuggests: an unknown key is named with its place in the
// file and the nearest known key, in the config's words, not Go's.
func TestUnknownKeySuggests(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"Case":        {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    pagesize: 3\n", `sources[0].tables[0]: unknown key "pagesize" at line 6 (did you mean pageSize?)`},
		"Typo":        {"sources:\n- id: a\n  kind: sqlite\n  tabels:\n  - table: t\n", `sources[0]: unknown key "tabels" at line 4 (did you mean tables?)`},
		"Prefix":      {"sources:\n- id: a\n  kind: sqlite\n  tables:\n  - table: t\n    cursor: id\n", "did you mean cursorColumn?"},
		"TopLevel":    {"replicas: x.db\nsources:\n- id: a\n  kind: sqlite\n", `config: unknown key "replicas" at line 1 (did you mean replica?)`},
		"NothingNear": {"sources:\n- id: a\n  kind: sqlite\n  zzzzzz: 1\n", "known keys here: id, kind, dsn"},
		"NotAList":    {"sources:\n- id: a\n  kind: sqlite\n  tables: t\n", "sources[0].tables: want a list"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := litepull.ParseConfig([]byte(tc.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "litepull.") {
				t.Fatalf("error names Go types: %v", err)
			}
		})
	}
	// Anchors and merge keys are YAML, not unknown keys.
	_, err := litepull.ParseConfig([]byte("sources:\n- &base\n  id: a\n  kind: sqlite\n- <<: *base\n  id: b\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("sources:\n- id: a\n  kind: sqlite\n  dsn: x\n  tables:\n  - table: t\n")
	f.Add("replica: r\nsources: []\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := litepull.ParseConfig([]byte(s), env(nil))
		if err != nil {
			return
		}
		// Whatever parses must be safe to put into SQL.
		for _, src := range cfg.Sources {
			if src.PageSize < 1 {
				t.Fatalf("page size %d accepted", src.PageSize)
			}
			for _, tc := range src.Tables {
				if _, err := litepull.SplitQualified(tc.Table); err != nil {
					t.Fatalf("table %q accepted: %v", tc.Table, err)
				}
				for _, c := range append(append([]string{tc.DestName()}, tc.Columns...), tc.PrimaryKey...) {
					if !litepull.ValidIdent(c) {
						t.Fatalf("identifier %q accepted", c)
					}
				}
			}
		}
	})
}

// TestLoadConfigResolvesPaths: relative replica and SQLite paths are taken
// from the config file's folder, not the working directory, so a run from
// elsewhere uses the same replica.
func TestLoadConfigResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "litepull.yaml")
	yaml := "replica: data/r.db\nsources:\n  - id: a\n    kind: sqlite\n    dsn: src.db\n  - id: b\n    kind: sqlite\n    dsn: /abs/src.db\n  - id: c\n    kind: postgres\n    dsn: postgres://x@h/db\n  - id: d\n    kind: sqlite\n    dsn: file:rel.db?mode=ro\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := litepull.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Replica, c.Sources[0].DSN, c.Sources[1].DSN, c.Sources[2].DSN, c.Sources[3].DSN}
	want := []string{filepath.Join(dir, "data/r.db"), filepath.Join(dir, "src.db"), "/abs/src.db", "postgres://x@h/db", "file:" + filepath.Join(dir, "rel.db") + "?mode=ro"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths = %q, want %q", got, want)
	}
}

// TestShapeErrorHidesEnvValues: a value from the environment in a field of
// the wrong shape is not echoed in the error: it may be a secret.
func TestShapeErrorHidesEnvValues(t *testing.T) {
	_, err := litepull.ParseConfig([]byte("sources:\n- id: a\n  kind: postgres\n  pageSize: ${PG_URL}\n"),
		env(map[string]string{"PG_URL": "postgres://app:hunter2@db/x"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v; want a shape error that does not show the value", err)
	}
	_, err = litepull.ParseConfig([]byte("sources:\n- id: a\n  kind: postgres\n  pageSize: lots\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), `"lots"`) {
		t.Fatalf("error = %v; want a written value shown", err)
	}
}

func TestStreamedSourcesShareNoSlotOrPublication(t *testing.T) {
	src := func(id, dsn, slot, pub string) litepull.SourceConfig {
		return litepull.SourceConfig{ID: id, Kind: "postgres", DSN: dsn, Changes: litepull.ChangesLogical, Slot: slot, Publication: pub}
	}
	binlog := func(id, dsn string, serverID uint32) litepull.SourceConfig {
		return litepull.SourceConfig{ID: id, Kind: "mysql", DSN: dsn, Changes: litepull.ChangesBinlog, ServerID: serverID}
	}
	cases := []struct {
		name    string
		sources []litepull.SourceConfig
		want    string // "" when valid
	}{
		{"OwnNames", []litepull.SourceConfig{src("a", "pg://h/db", "", ""), src("b", "pg://h/db", "", "")}, ""},
		{"SharedSlot", []litepull.SourceConfig{src("a", "pg://h/db", "s", "pa"), src("b", "pg://h/db", "s", "pb")}, `streams through slot s, as source "a" does`},
		{"SharedPublication", []litepull.SourceConfig{src("a", "pg://h/db", "sa", "p"), src("b", "pg://h/db", "sb", "p")}, `streams through publication p, as source "a" does`},
		{"OtherServer", []litepull.SourceConfig{src("a", "pg://h1/db", "s", "p"), src("b", "pg://h2/db", "s", "p")}, ""},
		{"SharedSlotOtherSpelling", []litepull.SourceConfig{src("a", "postgres://app@db.example:5432/shop", "s", "pa"),
			src("b", "host=db.example user=app dbname=shop sslmode=disable", "s", "pb")}, `streams through slot s, as source "a" does`},
		{"OtherDatabase", []litepull.SourceConfig{src("a", "postgres://app@db.example/shop", "s", "p"), src("b", "host=db.example dbname=crm", "s", "p")}, ""},
		{"SharedServerID", []litepull.SourceConfig{binlog("a", "app@tcp(db:3306)/shop", 7), binlog("b", "mysql://app@db/crm", 7)}, `streams through server id 7, as source "a" does`},
		{"OwnServerIDs", []litepull.SourceConfig{binlog("a", "app@tcp(db:3306)/shop", 7), binlog("b", "app@tcp(db:3306)/shop", 8)}, ""},
		{"ServerIDOnOtherServer", []litepull.SourceConfig{binlog("a", "app@tcp(db1:3306)/shop", 7), binlog("b", "app@tcp(db2:3306)/shop", 7)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := litepull.Config{Replica: "r.db", Sources: c.sources}
			err := cfg.Validate()
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

func TestResnapshotConfig(t *testing.T) {
	for _, c := range []struct {
		yaml, want string // want: "" when valid
	}{
		{"kind: postgres\n  changes: logical\n  resnapshot: auto", ""},
		{"kind: mysql\n  changes: binlog\n  resnapshot: manual", ""},
		{"kind: postgres\n  changes: logical\n  resnapshot: always", `unknown value "always"`},
		{"kind: postgres\n  resnapshot: auto", "are for streamed sources"},
	} {
		cfg, err := litepull.ParseConfig([]byte("replica: r.db\nsources:\n- id: a\n  dsn: x\n  "+c.yaml+"\n"), env(nil))
		if err == nil {
			err = cfg.Validate()
		}
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
	cfg, err := litepull.ParseConfig([]byte("replica: r.db\nsources:\n- id: a\n  dsn: x\n  kind: postgres\n  changes: logical\n  resnapshot: auto\n"), env(nil))
	if err != nil || cfg.Sources[0].Resnapshot != litepull.ResnapshotAuto {
		t.Fatalf("resnapshot: auto reads as %+v, %v", cfg, err)
	}
}
