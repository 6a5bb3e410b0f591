package litepull

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults for configuration fields left out.
const (
	// DefaultPageSize is the number of rows read per table per tick.
	DefaultPageSize = 5000
	// MaxPageSize is the largest pageSize a config may set.
	MaxPageSize = 1_000_000
	// DefaultReplica is the replica file when the config names none.
	DefaultReplica = "replica.db"
	// DefaultReconcileEvery is how often deletes: reconcile runs.
	DefaultReconcileEvery = Duration(time.Hour)
	// DefaultRunBudget and DefaultRunPages bound one scheduled run of a table.
	DefaultRunBudget = Duration(30 * time.Second)
	DefaultRunPages  = 1000
	// DefaultConnectTimeout bounds making a connection to a source.
	DefaultConnectTimeout = Duration(15 * time.Second)
	// DefaultReadTimeout bounds a wait for a source's answer: a stalled
	// read, or a statement waiting on a lock, fails within a minute.
	DefaultReadTimeout = Duration(time.Minute)
)

// Mode is how a table is read: TableConfig.Mode.
type Mode string

// Table modes; "" is ModeIncremental.
const (
	ModeIncremental Mode = "incremental"
	ModeFull        Mode = "full"
)

// DeleteMode is how rows deleted at the source leave the replica:
// TableConfig.Deletes. "" is none (a soft-delete column or a full mode
// may still delete).
type DeleteMode string

// DeletesReconcile is the deletes: value that turns reconciliation on.
const DeletesReconcile DeleteMode = "reconcile"

// Config is a litepull configuration file.
type Config struct {
	// Replica is the SQLite file the sources are replicated into.
	// Defaults to DefaultReplica.
	Replica string `yaml:"replica" json:"replica"`
	// RemoteReplica, when the config's replica: is a mapping, is the
	// remote SQLite service replicated into instead of a file (Replica is
	// then empty).
	RemoteReplica *ReplicaService `yaml:"-" json:"remoteReplica,omitempty"`
	// Sources are the databases to pull from.
	Sources []SourceConfig `yaml:"sources" json:"sources"`
}

// ReplicaService is a replica kept in a remote SQLite service:
//
//	replica:
//	  kind: starbase   # starbase | libsql | d1
//	  url: https://my-starbase.example.workers.dev
//	  token: ${STARBASE_ADMIN_TOKEN}
type ReplicaService struct {
	// Kind is starbase, libsql or d1.
	Kind string `yaml:"kind" json:"kind"`
	// URL is the service's address: StarbaseDB's, the libSQL server's
	// (libsql:// or https://), or for d1 the API root. Defaults, for d1
	// only, to Cloudflare's v4 API.
	URL string `yaml:"url" json:"url,omitempty"`
	// Token is the bearer token; give it through the environment.
	Token string `yaml:"token" json:"-"`
	// AccountID and DatabaseID identify a D1 database.
	AccountID  string `yaml:"accountId" json:"accountId,omitempty"`
	DatabaseID string `yaml:"databaseId" json:"databaseId,omitempty"`
	// ConnectTimeout and ReadTimeout bound each request as a source's do.
	// Default to DefaultConnectTimeout and DefaultReadTimeout.
	ConnectTimeout Duration `yaml:"connectTimeout" json:"connectTimeout,omitempty"`
	ReadTimeout    Duration `yaml:"readTimeout" json:"readTimeout,omitempty"`
}

// ReplicaKinds are the remote services a replica may be kept in.
var ReplicaKinds = []string{"starbase", "libsql", "d1"}

// String names the replica for messages: kind and host, never the token.
func (r *ReplicaService) String() string {
	if r.Kind == "d1" {
		return "d1 database " + r.DatabaseID
	}
	host := r.URL
	if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
		host = u.Host
	}
	return r.Kind + " " + host
}

func (r *ReplicaService) check() error {
	switch r.Kind {
	case "starbase", "libsql":
		if r.URL == "" {
			return &ConfigError{Path: "replica.url", Msg: "missing", Hint: "give the service's address, e.g. https://my-starbase.example.workers.dev"}
		}
	case "d1":
		if r.AccountID == "" || r.DatabaseID == "" {
			return &ConfigError{Path: "replica", Msg: "accountId and databaseId are required for d1", Hint: "accountId: ${CF_ACCOUNT_ID}, databaseId: ${CF_D1_DATABASE_ID}"}
		}
	case "":
		return &ConfigError{Path: "replica.kind", Msg: "missing", Hint: "kind: starbase, libsql or d1; or give replica: as a file path"}
	default:
		return &ConfigError{Path: "replica.kind", Msg: fmt.Sprintf("unknown kind %q", r.Kind), Hint: "kind: starbase, libsql or d1; or give replica: as a file path"}
	}
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err != nil || u.Host == "" {
			return &ConfigError{Path: "replica.url", Msg: fmt.Sprintf("%q is not a URL", r.URL), Hint: "https://host"}
		}
	}
	return nil
}

// SourceConfig is one database to pull from.
type SourceConfig struct {
	// ID scopes this source's rows in the state table (the seed's sourceId).
	ID string `yaml:"id" json:"id"`
	// Kind names the source implementation: postgres, sqlite, ...
	Kind string `yaml:"kind" json:"kind"`
	// DSN is the connection string (postgres) or file path (sqlite).
	// Secrets belong in the environment: dsn: ${PG_URL}.
	DSN string `yaml:"dsn" json:"-"`
	// URL and Token are for HTTP sources.
	URL   string `yaml:"url" json:"url,omitempty"`
	Token string `yaml:"token" json:"-"`
	// AccountID and DatabaseID identify a Cloudflare D1 database.
	AccountID  string `yaml:"accountId" json:"accountId,omitempty"`
	DatabaseID string `yaml:"databaseId" json:"databaseId,omitempty"`
	// Schema is the schema discovery looks in. Defaults to the source's own
	// default (public for Postgres, main for SQLite).
	Schema string `yaml:"schema" json:"schema,omitempty"`
	// PageSize is the most rows read per table per tick.
	// Defaults to DefaultPageSize.
	PageSize int `yaml:"pageSize" json:"pageSize"`
	// CursorColumn is the cursor used for discovered tables that have such a
	// column. Defaults to the table's single-column primary key.
	CursorColumn string `yaml:"cursorColumn" json:"cursorColumn,omitempty"`
	// Settle leaves out rows whose timestamp cursor is newer than the source's
	// clock minus Settle. Defaults to 0 (off).
	Settle Duration `yaml:"settle" json:"settle,omitempty"`
	// Lookback re-reads a window behind the watermark whenever a table starts
	// a tick caught up: a duration for timestamp cursors, a number for
	// integer cursors. Defaults to none.
	Lookback Lookback `yaml:"lookback" json:"lookback,omitempty"`
	// TimeZone is the IANA time zone (America/New_York) the application
	// writes cursors without a time zone in (timestamp without time zone,
	// DATETIME, date), for the settle horizon and the far-future check.
	// Defaults to the database's default time zone (Postgres: its
	// TimeZone setting; MySQL: @@global.time_zone; SQLite: UTC).
	TimeZone string `yaml:"timeZone" json:"timeZone,omitempty"`
	// Schedule is when the daemon runs this source's tables: "every 30s" or
	// a 5-field cron expression (UTC). Defaults to none: on demand only.
	Schedule string `yaml:"schedule" json:"schedule,omitempty"`
	// RunBudget bounds one scheduled run of a table: it drains until caught
	// up, RunPages pages, or RunBudget time, whichever comes first, then
	// yields to the other tables. Defaults to DefaultRunBudget and
	// DefaultRunPages.
	RunBudget Duration `yaml:"runBudget" json:"runBudget,omitempty"`
	RunPages  int      `yaml:"runPages" json:"runPages,omitempty"`
	// ConnectTimeout bounds making a connection to the source: the TCP
	// connect, TLS and the protocol's handshake. Defaults to
	// DefaultConnectTimeout.
	ConnectTimeout Duration `yaml:"connectTimeout" json:"connectTimeout,omitempty"`
	// ReadTimeout bounds every wait for the source's answer: for a
	// statement's first row (a table locked by a migration waits here) and
	// for each further read of it. A source silent for this long fails the
	// table with a timeout error, retried with backoff. Raise it for
	// statements that legitimately run longer before their first row.
	// Defaults to DefaultReadTimeout.
	ReadTimeout Duration `yaml:"readTimeout" json:"readTimeout,omitempty"`
	// Changes is how changes are found: cursor (poll each table by its
	// cursor column) or logical (stream a Postgres source's write-ahead
	// log). Defaults to cursor.
	Changes ChangeMode `yaml:"changes" json:"changes,omitempty"`
	// Slot and Publication name the replication slot and publication of
	// changes: logical; both are created if absent. Default to
	// litepull_<id> (lower case, other characters as _).
	Slot        string `yaml:"slot" json:"slot,omitempty"`
	Publication string `yaml:"publication" json:"publication,omitempty"`
	// ServerID is the server id changes: binlog connects to the source
	// with, as a replica does: unique among the source's replicas and
	// other binlog readers. Defaults to one derived from the source's id
	// (DefaultServerID).
	ServerID uint32 `yaml:"serverId" json:"serverId,omitempty"`
	// Resnapshot is what a streamed source does when its stream cannot
	// resume where the replica stands (a purged binlog, a lost or
	// invalidated slot, another server the position cannot be found on):
	// manual fails the source, saying how to take a new snapshot; auto
	// copies every table again on its own. Defaults to manual.
	Resnapshot ResnapshotMode `yaml:"resnapshot" json:"resnapshot,omitempty"`
	// Tables to replicate. Empty means discover every table with a primary key.
	Tables []TableConfig `yaml:"tables" json:"tables,omitempty"`
}

// ResnapshotMode is what a streamed source does when its stream cannot
// resume: SourceConfig.Resnapshot.
type ResnapshotMode string

// Resnapshot modes; "" is ResnapshotManual.
const (
	// ResnapshotManual fails the source with ErrSnapshotNeeded until a
	// run with Full copies every table again.
	ResnapshotManual ResnapshotMode = "manual"
	// ResnapshotAuto copies every table again, with a warning.
	ResnapshotAuto ResnapshotMode = "auto"
)

// Streams reports whether the source streams its changes (changes:
// logical or binlog) instead of being polled by cursor.
func (s SourceConfig) Streams() bool {
	return s.Changes == ChangesLogical || s.Changes == ChangesBinlog
}

// ChangeOptions are the slot, publication and tables of the source's
// change stream, defaults filled in.
func (s SourceConfig) ChangeOptions(tables []string) ChangeOptions {
	if s.Changes == ChangesBinlog {
		id := s.ServerID
		if id == 0 {
			id = DefaultServerID(s.ID)
		}
		return ChangeOptions{ServerID: id, Tables: tables}
	}
	o := ChangeOptions{Slot: s.Slot, Publication: s.Publication, Tables: tables}
	if o.Slot == "" {
		o.Slot = defaultSlotName(s.ID)
	}
	if o.Publication == "" {
		o.Publication = defaultSlotName(s.ID)
	}
	return o
}

// DefaultServerID is the binlog server id of a source that sets none: a
// hash of its id, in 1,000,000..2^31-1, away from the small ids servers
// are usually given.
func DefaultServerID(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return 1_000_000 + h.Sum32()%(1<<31-1_000_000)
}

// defaultSlotName is litepull_<id> as a slot name may spell it: lower-case
// letters, digits and _, at most 63 bytes.
func defaultSlotName(id string) string {
	b := []byte("litepull_" + strings.ToLower(id))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 63)])
}

// TableConfig is one table to replicate.
type TableConfig struct {
	// Table is the source table; schema-qualified names are allowed.
	Table string `yaml:"table" json:"table"`
	// Dest is the replica table. Defaults to the last part of Table.
	Dest string `yaml:"dest" json:"dest,omitempty"`
	// Columns projects the source columns. The cursor and primary key columns
	// are always included. Defaults to every column.
	Columns []string `yaml:"columns" json:"columns,omitempty"`
	// CursorColumn is the monotonic column pages are ordered on.
	// Defaults to the source's CursorColumn, then to a single-column primary key.
	CursorColumn string `yaml:"cursorColumn" json:"cursorColumn"`
	// PrimaryKey defaults to the key discovered from the source's catalog,
	// else "id".
	PrimaryKey []string `yaml:"primaryKey" json:"primaryKey,omitempty"`
	// PageSize overrides the source's page size for this table.
	PageSize int `yaml:"pageSize" json:"pageSize,omitempty"`
	// Schedule overrides the source's schedule for this table.
	Schedule string `yaml:"schedule" json:"schedule,omitempty"`
	// Mode is incremental (pages on the cursor) or full (every run copies
	// the whole table into a shadow table and swaps it in). Defaults to
	// incremental.
	Mode Mode `yaml:"mode" json:"mode,omitempty"`
	// SoftDelete names a column that marks deleted rows at the source
	// (deleted_at, is_deleted): a row whose value is not NULL, 0, false or
	// empty is deleted from the replica instead of upserted.
	SoftDelete string `yaml:"softDelete" json:"softDelete,omitempty"`
	// Deletes: "reconcile" finds rows deleted at the source by comparing
	// per-range counts and checksums of primary keys, every ReconcileEvery.
	// Defaults to none.
	Deletes        DeleteMode `yaml:"deletes" json:"deletes,omitempty"`
	ReconcileEvery Duration   `yaml:"reconcileEvery" json:"reconcileEvery,omitempty"`
	// Settle and Lookback override the source's values for this table.
	Settle   *Duration `yaml:"settle" json:"settle,omitempty"`
	Lookback *Lookback `yaml:"lookback" json:"lookback,omitempty"`
	// TimeZone overrides the source's TimeZone for this table: the IANA
	// time zone its cursor without a time zone is written in. Defaults to
	// the source's TimeZone.
	TimeZone string `yaml:"timeZone" json:"timeZone,omitempty"`

	// discovered marks a table found by discovery rather than listed.
	discovered bool
}

// DestName is the replica table name.
func (t TableConfig) DestName() string {
	if t.Dest != "" {
		return t.Dest
	}
	return t.Table[strings.LastIndexByte(t.Table, '.')+1:]
}

// Timeouts returns the source's connect and read timeouts, defaults
// filled in (a config that did not go through Validate has none).
func (s SourceConfig) Timeouts() (connect, read time.Duration) {
	connect, read = time.Duration(s.ConnectTimeout), time.Duration(s.ReadTimeout)
	if connect <= 0 {
		connect = time.Duration(DefaultConnectTimeout)
	}
	if read <= 0 {
		read = time.Duration(DefaultReadTimeout)
	}
	return connect, read
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses "30s", "5m", or 0.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 5s or 2m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalText renders the duration as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Lookback is a window behind the watermark: a duration ("5m", for timestamp
// cursors) or an amount ("1000", for integer cursors).
type Lookback struct {
	Duration time.Duration
	Amount   int64
}

// IsZero reports an unset lookback.
func (l Lookback) IsZero() bool { return l.Duration == 0 && l.Amount == 0 }

func (l Lookback) String() string {
	if l.Duration != 0 {
		return l.Duration.String()
	}
	return strconv.FormatInt(l.Amount, 10)
}

// MarshalText renders the lookback as written in config.
func (l Lookback) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// ParseLookback parses "5m" or "1000".
func ParseLookback(s string) (Lookback, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return Lookback{Amount: n}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return Lookback{Duration: d}, nil
	}
	return Lookback{}, fmt.Errorf("%q is neither a duration (5m) nor a whole number of cursor units (1000)", s)
}

// UnmarshalYAML parses the lookback.
func (l *Lookback) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseLookback(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: lookback %w", n.Line, err)
	}
	*l = v
	return nil
}

// LoadConfig reads, expands and parses a config file and checks it.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(data, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	return c, nil
}

// resolvePaths makes the replica path and SQLite source paths relative to
// dir (the config file's folder) absolute, so a run from any working
// directory uses the same files: resolved against the working directory, a
// run from elsewhere would silently start a fresh replica.
func (c *Config) resolvePaths(dir string) {
	c.Replica = resolvePath(dir, c.Replica)
	for i := range c.Sources {
		if c.Sources[i].Kind == "sqlite" {
			c.Sources[i].DSN = resolvePath(dir, c.Sources[i].DSN)
		}
	}
}

func resolvePath(dir, p string) string {
	if rest, ok := strings.CutPrefix(p, "file:"); ok {
		// A URI: its path part, before any ?query, is resolved the same way.
		name, query, hasQuery := strings.Cut(rest, "?")
		if strings.HasPrefix(name, "/") || name == "" || name == ":memory:" {
			return p
		}
		p = "file:" + resolvePath(dir, name)
		if hasQuery {
			p += "?" + query
		}
		return p
	}
	if p == "" || p == ":memory:" || filepath.IsAbs(p) {
		return p
	}
	abs, err := filepath.Abs(filepath.Join(dir, p))
	if err != nil {
		return filepath.Join(dir, p)
	}
	return abs
}

// ParseConfig parses YAML strictly (unknown keys are errors), expands
// ${ENV} references in its values and validates the result.
func ParseConfig(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	doc, remote, err := parseYAML(data, lookup)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := doc.Decode(&c); err != nil {
		return nil, &ConfigError{Msg: "parse YAML: " + err.Error(), Hint: "see the config example in the README"}
	}
	if remote != nil {
		c.RemoteReplica = &ReplicaService{}
		if err := remote.Decode(c.RemoteReplica); err != nil {
			return nil, &ConfigError{Path: "replica", Msg: "parse YAML: " + err.Error(), Hint: "see the config example in the README"}
		}
	}
	if err := c.checkZeroPageSizes(doc); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate fills in defaults (ApplyDefaults) and checks the result
// (Check), returning the first problem found as a *ConfigError.
func (c *Config) Validate() error {
	c.ApplyDefaults()
	return c.Check()
}

// ApplyDefaults fills in the fields left out that have a default: the
// replica path; each source's pageSize, runBudget, runPages and timeouts;
// reconcileEvery of each table with deletes: reconcile. It checks nothing.
func (c *Config) ApplyDefaults() {
	if c.Replica == "" && c.RemoteReplica == nil {
		c.Replica = DefaultReplica
	}
	for i := range c.Sources {
		c.Sources[i].applyDefaults()
	}
}

func (s *SourceConfig) applyDefaults() {
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	if s.RunBudget == 0 {
		s.RunBudget = DefaultRunBudget
	}
	if s.RunPages == 0 {
		s.RunPages = DefaultRunPages
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = DefaultConnectTimeout
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = DefaultReadTimeout
	}
	for j := range s.Tables {
		t := &s.Tables[j]
		if t.Deletes == DeletesReconcile && t.ReconcileEvery == 0 {
			t.ReconcileEvery = DefaultReconcileEvery
		}
	}
}

// Check returns the first problem of the config as a *ConfigError, and
// changes nothing. A field left out passes, as its default would.
func (c *Config) Check() error {
	if strings.HasPrefix(c.Replica, "file:") {
		return &ConfigError{Path: "replica", Msg: fmt.Sprintf("%q is a URI", c.Replica), Hint: "give the replica as a file path"}
	}
	if c.RemoteReplica != nil {
		if err := c.RemoteReplica.check(); err != nil {
			return err
		}
	}
	if len(c.Sources) == 0 {
		return &ConfigError{Path: "sources", Msg: "no sources", Hint: "list at least one source with id, kind and dsn"}
	}
	ids := map[string]bool{}
	dests := map[string]string{} // lower-cased dest -> "source/table" that fills it
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if s.ID == "" {
			return &ConfigError{Path: p + ".id", Msg: "missing", Hint: "give every source a unique id; it scopes the state table"}
		}
		if ids[s.ID] {
			return &ConfigError{Path: p + ".id", Msg: fmt.Sprintf("duplicate id %q", s.ID), Hint: "source ids must be unique"}
		}
		ids[s.ID] = true
		if err := s.check(fmt.Sprintf("source %q", s.ID), dests); err != nil {
			return err
		}
		if err := c.checkSharedStream(i); err != nil {
			return err
		}
	}
	return nil
}

// checkSharedStream refuses a streamed source whose slot or publication
// (Postgres), or binlog server id (MySQL), an earlier source on the same
// server uses too: each would move the other's slot, or set the
// publication to its own tables, and every run of each would copy all
// its tables again; two binlog readers with one server id are cut off
// by the server in turn. The server is compared by host, port and (for
// Postgres) database, so two spellings of one DSN are one server.
func (c *Config) checkSharedStream(i int) error {
	s := c.Sources[i]
	if !s.Streams() {
		return nil
	}
	mine := s.ChangeOptions(nil)
	for _, o := range c.Sources[:i] {
		if o.Changes != s.Changes || !sameServer(o, s) {
			continue
		}
		theirs := o.ChangeOptions(nil)
		shared := map[string]bool{"slot " + mine.Slot: mine.Slot == theirs.Slot, "publication " + mine.Publication: mine.Publication == theirs.Publication}
		hint := "give each streamed source a slot and a publication of its own (slot:, publication:)"
		if s.Changes == ChangesBinlog {
			shared = map[string]bool{fmt.Sprintf("server id %d", mine.ServerID): mine.ServerID == theirs.ServerID}
			hint = "give each binlog source a server id of its own (serverId:)"
		}
		for what, same := range shared {
			if same {
				return &ConfigError{Path: fmt.Sprintf("source %q", s.ID), Msg: fmt.Sprintf("streams through %s, as source %q does", what, o.ID), Hint: hint}
			}
		}
	}
	return nil
}

// sameServer reports whether two sources' DSNs name the same server (and
// Postgres database), however each is spelled; a DSN that cannot be read
// so is compared as written.
func sameServer(a, b SourceConfig) bool {
	if a.DSN == b.DSN {
		return true
	}
	ta, ok1 := dsnServer(a.Kind, a.DSN)
	tb, ok2 := dsnServer(b.Kind, b.DSN)
	return ok1 && ok2 && ta == tb
}

// dsnServer is host:port (and /database for Postgres) of a DSN in any of
// the forms the drivers take: a URL, Postgres key=value pairs, or the
// MySQL driver's user@tcp(host:port)/db.
func dsnServer(kind, dsn string) (string, bool) {
	port, user, host, db := "5432", "", "", ""
	if kind == "mysql" {
		port = "3306"
	}
	switch {
	case strings.Contains(dsn, "://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", false
		}
		host, db, user = u.Hostname(), strings.TrimPrefix(u.Path, "/"), u.User.Username()
		if u.Port() != "" {
			port = u.Port()
		}
		if v := u.Query().Get("dbname"); v != "" {
			db = v
		}
	case kind == "mysql":
		at := strings.LastIndex(dsn, "@tcp(")
		end := strings.Index(dsn[max(at, 0):], ")")
		if at < 0 || end < 0 {
			return "", false
		}
		addr := dsn[at+len("@tcp(") : at+end]
		host = addr
		if h, p, ok := strings.Cut(addr, ":"); ok {
			host, port = h, p
		}
	case !strings.Contains(dsn, "'"):
		for _, kv := range strings.Fields(dsn) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "host":
				host = v
			case "port":
				port = v
			case "dbname":
				db = v
			case "user":
				user = v
			}
		}
	}
	if host == "" {
		return "", false
	}
	if kind == "mysql" {
		return strings.ToLower(host) + ":" + port, true
	}
	if db == "" {
		db = user
	}
	return strings.ToLower(host) + ":" + port + "/" + db, db != ""
}

// check checks one source, at path p, and its tables, whose replica
// tables it adds to dests.
func (s *SourceConfig) check(p string, dests map[string]string) error {
	if s.Kind == "" {
		return &ConfigError{Path: p + " kind", Msg: "missing", Hint: "one of postgres, mysql, sqlite, libsql, d1, starbase"}
	}
	if s.PageSize != 0 { // 0: the default
		if err := checkPageSize(p+" pageSize", s.PageSize); err != nil {
			return err
		}
	}
	if s.RunPages < 0 {
		return &ConfigError{Path: p + " runPages", Msg: fmt.Sprintf("%d is less than 1", s.RunPages)}
	}
	if s.Schedule != "" {
		if _, err := ParseSchedule(s.Schedule); err != nil {
			return &ConfigError{Path: p + " schedule", Msg: err.Error(), Hint: "every 30s, or a cron expression such as */5 * * * *"}
		}
	}
	if s.CursorColumn != "" {
		if err := CheckIdent("cursor column", s.CursorColumn); err != nil {
			return &ConfigError{Path: p + " cursorColumn", Msg: err.Error(), Err: ErrBadIdentifier}
		}
	}
	if s.Schema != "" {
		if err := CheckIdent("schema", s.Schema); err != nil {
			return &ConfigError{Path: p + " schema", Msg: err.Error(), Err: ErrBadIdentifier}
		}
	}
	if err := checkZone(s.TimeZone); err != nil {
		return &ConfigError{Path: p + " timeZone", Msg: err.Error(), Hint: zoneHint}
	}
	if err := s.checkChanges(p); err != nil {
		return err
	}
	listed := map[string]bool{}
	for j := range s.Tables {
		if err := s.Tables[j].validate(fmt.Sprintf("%s tables[%d]", p, j)); err != nil {
			return err
		}
		t := &s.Tables[j]
		tp := fmt.Sprintf("%s table %q", p, t.Table)
		if t.PageSize != 0 { // 0: the source's
			if err := checkPageSize(tp+" pageSize", t.PageSize); err != nil {
				return err
			}
		}
		if listed[t.Table] {
			return &ConfigError{Path: tp, Msg: "listed twice", Hint: "a source table's state is kept once per source: list it once, or add a second source with its own id for a second copy"}
		}
		listed[t.Table] = true
		key := strings.ToLower(t.DestName())
		if prev, dup := dests[key]; dup {
			return &ConfigError{Path: tp, Msg: fmt.Sprintf("replica table %q is also the destination of %s (SQLite table names ignore case)", t.DestName(), prev), Hint: "set dest to tell them apart"}
		}
		dests[key] = s.ID + "/" + t.Table
	}
	return nil
}

// checkChanges checks changes:, slot: and publication:, and that a
// streamed source sets nothing that only polling uses.
func (s *SourceConfig) checkChanges(p string) error {
	switch s.Changes {
	case "", ChangesCursor:
		if s.Slot != "" || s.Publication != "" || s.ServerID != 0 || s.Resnapshot != "" {
			return &ConfigError{Path: p + " changes", Msg: "slot, publication, serverId and resnapshot are for streamed sources", Hint: "set changes: logical (postgres) or binlog (mysql), or leave them out"}
		}
		return nil
	case ChangesBinlog:
		if s.Slot != "" || s.Publication != "" {
			return &ConfigError{Path: p + " slot", Msg: "slot and publication are for changes: logical (postgres)", Hint: "a binlog reader needs neither: leave them out (serverId names it)"}
		}
	case ChangesLogical:
		if s.ServerID != 0 {
			return &ConfigError{Path: p + " serverId", Msg: "serverId is for changes: binlog (mysql)", Hint: "leave it out"}
		}
	default:
		return &ConfigError{Path: p + " changes", Msg: fmt.Sprintf("unknown value %q", s.Changes), Hint: "cursor (the default), logical (postgres) or binlog (mysql)"}
	}
	if s.Resnapshot != "" && s.Resnapshot != ResnapshotManual && s.Resnapshot != ResnapshotAuto {
		return &ConfigError{Path: p + " resnapshot", Msg: fmt.Sprintf("unknown value %q", s.Resnapshot),
			Hint: "manual (the default: fail until litepull run -full copies every table again) or auto (copy them again on its own)"}
	}
	if want := map[ChangeMode]string{ChangesLogical: "postgres", ChangesBinlog: "mysql"}[s.Changes]; s.Kind != want {
		return &ConfigError{Path: p + " changes", Msg: fmt.Sprintf("changes: %s needs a %s source", s.Changes, want),
			Hint: "postgres streams with changes: logical, mysql with changes: binlog; other kinds poll by cursor: leave changes out"}
	}
	for field, name := range map[string]string{"slot": s.Slot, "publication": s.Publication} {
		if name == "" {
			continue
		}
		if err := CheckIdent(field, name); err != nil || len(name) > 63 || strings.ToLower(name) != name {
			return &ConfigError{Path: p + " " + field, Msg: fmt.Sprintf("%q is not a slot or publication name", name), Hint: "lower-case letters, digits and _, at most 63 characters"}
		}
	}
	polling := func(path, what string) error {
		return &ConfigError{Path: path + " " + what, Msg: what + " is for polling by cursor; a streamed source sees every change without it", Hint: "leave it out with changes: logical"}
	}
	switch {
	case s.CursorColumn != "":
		return polling(p, "cursorColumn")
	case s.Settle != 0:
		return polling(p, "settle")
	case !s.Lookback.IsZero():
		return polling(p, "lookback")
	}
	for _, t := range s.Tables {
		tp := fmt.Sprintf("%s table %q", p, t.Table)
		switch {
		case t.CursorColumn != "":
			return polling(tp, "cursorColumn")
		case t.Mode != "":
			return polling(tp, "mode")
		case t.Deletes != "":
			return polling(tp, "deletes")
		case t.Settle != nil:
			return polling(tp, "settle")
		case t.Lookback != nil:
			return polling(tp, "lookback")
		}
	}
	return nil
}

// checkPageSize refuses a page size out of 1..MaxPageSize.
func checkPageSize(path string, n int) error {
	switch {
	case n < 1:
		return &ConfigError{Path: path, Msg: fmt.Sprintf("%d is less than 1", n), Hint: fmt.Sprintf("leave it out for the default, %d rows", DefaultPageSize)}
	case n > MaxPageSize:
		return &ConfigError{Path: path, Msg: fmt.Sprintf("%d is more than %d", n, MaxPageSize),
			Hint: fmt.Sprintf("pages are cut at %d MiB anyway; a few thousand rows (the default is %d) read as fast", DefaultPageBytes>>20, DefaultPageSize)}
	}
	return nil
}

// checkZeroPageSizes refuses a pageSize written as 0 in the YAML: in Go a
// zero PageSize means "the default", so Validate cannot tell it apart.
func (c *Config) checkZeroPageSizes(doc *yaml.Node) error {
	explicitZero := func(m *yaml.Node) bool {
		v := mappingValue(m, "pageSize")
		var n int
		return v != nil && v.Decode(&n) == nil && n == 0
	}
	sources := mappingValue(docRoot(doc), "sources")
	if sources == nil || sources.Kind != yaml.SequenceNode || len(sources.Content) != len(c.Sources) {
		return nil
	}
	for i, sn := range sources.Content {
		p := fmt.Sprintf("source %q", c.Sources[i].ID)
		if explicitZero(sn) {
			return checkPageSize(p+" pageSize", 0)
		}
		tables := mappingValue(sn, "tables")
		if tables == nil || tables.Kind != yaml.SequenceNode || len(tables.Content) != len(c.Sources[i].Tables) {
			continue
		}
		for j, tn := range tables.Content {
			if explicitZero(tn) {
				return checkPageSize(fmt.Sprintf("%s table %q pageSize", p, c.Sources[i].Tables[j].Table), 0)
			}
		}
	}
	return nil
}

// docRoot is the top node of a YAML document.
func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// mappingValue is the value of key in a YAML mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// validate checks one table, at path p; it changes nothing.
func (t *TableConfig) validate(p string) error {
	bad := func(field string, err error) error {
		return &ConfigError{Path: p + " " + field, Msg: err.Error(), Hint: "names may hold only letters, digits and _, and not start with a digit", Err: ErrBadIdentifier}
	}
	if t.Table == "" {
		return &ConfigError{Path: p + ".table", Msg: "missing", Hint: "name the source table"}
	}
	if _, err := SplitQualified(t.Table); err != nil {
		return bad("table", err)
	}
	p = fmt.Sprintf("table %q", t.Table)
	switch t.Mode {
	case "", ModeIncremental, ModeFull:
	default:
		return &ConfigError{Path: p + " mode", Msg: fmt.Sprintf("unknown mode %q", t.Mode), Hint: "incremental or full"}
	}
	switch t.Deletes {
	case "", DeletesReconcile:
	default:
		return &ConfigError{Path: p + " deletes", Msg: fmt.Sprintf("unknown value %q", t.Deletes), Hint: "deletes: reconcile, or leave it out"}
	}
	if t.SoftDelete != "" {
		if err := CheckIdent("soft-delete column", t.SoftDelete); err != nil {
			return bad("softDelete", err)
		}
	}
	if t.Schedule != "" {
		if _, err := ParseSchedule(t.Schedule); err != nil {
			return &ConfigError{Path: p + " schedule", Msg: err.Error(), Hint: "every 30s, or a cron expression such as */5 * * * *"}
		}
	}
	if err := checkZone(t.TimeZone); err != nil {
		return &ConfigError{Path: p + " timeZone", Msg: err.Error(), Hint: zoneHint}
	}
	if err := CheckIdent("dest table", t.DestName()); err != nil {
		return bad("dest", err)
	}
	if t.CursorColumn != "" {
		if err := CheckIdent("cursor column", t.CursorColumn); err != nil {
			return bad("cursorColumn", err)
		}
	}
	for _, c := range t.Columns {
		if err := CheckIdent("column", c); err != nil {
			return bad("columns", err)
		}
	}
	for _, c := range t.PrimaryKey {
		if err := CheckIdent("primary key column", c); err != nil {
			return bad("primaryKey", err)
		}
	}
	return nil
}

// errMissingCursor is returned when a table has no cursor column and none
// can be defaulted.
var errMissingCursor = errors.New("no cursor column: set cursorColumn (a monotonic column such as id or updated_at)")
