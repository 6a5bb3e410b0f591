package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"

	"github.com/litepull/litepull"
)

// serverInfo is what a binlog stream needs to know of its server.
type serverInfo struct {
	mariadb  bool
	identity string // @@server_uuid, or @@server_id where there is none (MariaDB)
	logBin   bool
	format   string // binlog_format
	image    string // binlog_row_image
	// valueOptions is MySQL's binlog_row_value_options: PARTIAL_JSON
	// logs JSON updates as diffs.
	valueOptions string
	// foldCase: lower_case_table_names is on, table names compare
	// without case.
	foldCase bool
	// gtid: the server names transactions by GTID (MariaDB always does;
	// MySQL with gtid_mode = ON).
	gtid bool
}

// serverInfo reads the server's binlog settings.
func (s *Source) serverInfo(ctx context.Context) (serverInfo, error) {
	var version, serverID, logBin, format, image, lower string
	err := s.queryRow(ctx, []any{&version, &serverID, &logBin, &format, &image, &lower},
		"SELECT VERSION(), @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image, @@lower_case_table_names")
	if err != nil {
		return serverInfo{}, fmt.Errorf("read the server's binlog settings: %w", err)
	}
	info := serverInfo{mariadb: strings.Contains(strings.ToLower(version), "mariadb"), identity: serverID,
		logBin: logBin == "1", format: strings.ToUpper(format), image: strings.ToUpper(image), foldCase: lower != "0"}
	if info.mariadb {
		info.gtid = true
		return info, nil
	}
	var gtidMode string
	if err := s.queryRow(ctx, []any{&info.identity, &gtidMode}, "SELECT @@server_uuid, @@gtid_mode"); err != nil {
		return serverInfo{}, fmt.Errorf("read the server's uuid and gtid_mode: %w", err)
	}
	info.gtid = strings.EqualFold(gtidMode, "ON")
	var opts sql.NullString
	err = s.queryRow(ctx, []any{&opts}, "SELECT @@binlog_row_value_options")
	if err != nil && !isCode(err, 1193) { // unknown variable: before MySQL 8.0.3
		return serverInfo{}, fmt.Errorf("read binlog_row_value_options: %w", err)
	}
	info.valueOptions = strings.ToUpper(opts.String)
	return info, nil
}

// isCode reports a server error with the given number, from the
// driver or from the binlog reader's client.
func isCode(err error, code uint16) bool {
	var me *driver.MySQLError
	var ge *gomysql.MyError
	return errors.As(err, &me) && me.Number == code || errors.As(err, &ge) && ge.Code == code
}

// settingsError says what stops the server from streaming row changes,
// and how to fix it the way host's provider does it; nil if nothing does.
func (i serverInfo) settingsError(host string) error {
	var wrong []string
	switch {
	case !i.logBin:
		wrong = append(wrong, "its binlog is off (log_bin = OFF)")
	default:
		if i.format != "ROW" {
			wrong = append(wrong, fmt.Sprintf("binlog_format is %s, not ROW", i.format))
		}
		if i.image != "FULL" {
			wrong = append(wrong, fmt.Sprintf("binlog_row_image is %s, not FULL (whole rows before and after each change)", i.image))
		}
		if strings.Contains(i.valueOptions, "PARTIAL_JSON") {
			wrong = append(wrong, "binlog_row_value_options is PARTIAL_JSON (JSON updates logged as diffs)")
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	return fmt.Errorf("the source cannot stream its changes: %s: %s", strings.Join(wrong, "; "), settingsFix(host))
}

// settingsFix says how to turn on a row binlog of full images on host.
func settingsFix(host string) string {
	host = strings.ToLower(host)
	switch {
	case strings.HasSuffix(host, ".rds.amazonaws.com"):
		return "on RDS or Aurora, set binlog_format = ROW and binlog_row_image = FULL in the DB (cluster) parameter group, " +
			"turn on automated backups (a backup retention period above 0: that is what turns the binlog on) and reboot; " +
			"then keep binlogs for a while: CALL mysql.rds_set_configuration('binlog retention hours', 24)"
	case strings.Contains(host, "psdb.cloud"), strings.Contains(host, "planetscale"):
		return "PlanetScale gives no access to the binlog, so its tables cannot be streamed: leave changes out to poll them by cursor"
	}
	return "in the server's my.cnf, under [mysqld], set log_bin = mysql-bin, binlog_format = ROW, binlog_row_image = FULL " +
		"and a server_id, then restart it (binlog_format and binlog_row_image can also be SET GLOBAL, for new sessions; " +
		"on RDS or Aurora use the parameter group and automated backups; PlanetScale gives no binlog access)"
}

// checkServer checks the binlog's settings and the user's privileges.
func (s *Source) checkServer(ctx context.Context) (serverInfo, error) {
	host := s.dsn.Addr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if fix := settingsFix(host); strings.HasPrefix(fix, "PlanetScale") {
		return serverInfo{}, errors.New("the source cannot stream its changes: " + fix)
	}
	info, err := s.serverInfo(ctx)
	if err != nil {
		return info, err
	}
	if err := info.settingsError(host); err != nil {
		return info, err
	}
	return info, s.checkGrants(ctx)
}

// checkGrants checks that the user may read the binlog (REPLICATION
// SLAVE) and see where it stands (REPLICATION CLIENT).
func (s *Source) checkGrants(ctx context.Context) error {
	var user string
	if err := s.queryRow(ctx, []any{&user}, "SELECT CURRENT_USER()"); err != nil {
		return fmt.Errorf("read the current user: %w", err)
	}
	var lines []string
	q, release, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = eachRow(ctx, q, "SHOW GRANTS", func(v []string) error {
		lines = append(lines, v[0])
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the user's grants: %w", err)
	}
	return grantsError(user, missingGrants(lines))
}

// grantsError says which privileges user lacks and how to grant them.
func grantsError(user string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	at := strings.LastIndexByte(user, '@')
	if at >= 0 {
		user = "'" + user[:at] + "'@'" + user[at+1:] + "'"
	}
	return fmt.Errorf("user %s may not stream changes: it lacks %s; as an administrator: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s "+
		"(on RDS or Aurora the master user may grant them)", user, strings.Join(missing, " and "), user)
}

// missingGrants reads SHOW GRANTS and returns the privileges of a binlog
// reader it lacks: REPLICATION SLAVE (to read the binlog) and REPLICATION
// CLIENT (to see binlog positions; BINLOG MONITOR on MariaDB). Privileges
// that may come from roles are not known here: with roles granted, none
// is reported missing (the server says so when the stream starts).
func missingGrants(lines []string) []string {
	have := map[string]bool{}
	for _, line := range lines {
		privs, on, ok := strings.Cut(strings.TrimPrefix(line, "GRANT "), " ON ")
		if !ok {
			return nil // a role: its privileges are not listed here
		}
		if !strings.HasPrefix(strings.TrimSpace(on), "*.*") {
			continue
		}
		for _, p := range strings.Split(privs, ",") {
			have[strings.ToUpper(strings.TrimSpace(p))] = true
		}
	}
	if have["ALL PRIVILEGES"] || have["ALL"] {
		return nil
	}
	var missing []string
	if !have["REPLICATION SLAVE"] && !have["REPLICATION REPLICA"] {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !have["REPLICATION CLIENT"] && !have["BINLOG MONITOR"] && !have["SUPER"] {
		missing = append(missing, "REPLICATION CLIENT")
	}
	return missing
}

// eachRow runs a statement and hands each row to each, as text (NULL is
// ""): SHOW statements, whose columns differ between servers and
// versions.
func eachRow(ctx context.Context, q querier, query string, each func([]string) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	raw := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		v := make([]string, len(cols))
		for i, r := range raw {
			v[i] = r.String
		}
		if err := each(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// streamedTable is a configured table as the server names it.
type streamedTable struct {
	name   string // as configured
	schema string // TABLE_SCHEMA
	table  string // TABLE_NAME
}

// streamTables finds the configured tables and checks that each is a
// base table whose rows a key tells apart. Any unique key will do (the
// binlog carries whole rows): the table's primary key, or primaryKey set
// to the columns of a unique key.
func (s *Source) streamTables(ctx context.Context, names []string, foldCase bool) ([]streamedTable, error) {
	var out []streamedTable
	seen := map[[2]string]string{}
	for _, name := range names {
		t, err := s.streamTable(ctx, name)
		if err != nil {
			return nil, err
		}
		k := tableKey(t.schema, t.table, foldCase)
		if other, dup := seen[k]; dup {
			return nil, fmt.Errorf("tables %s and %s are the same table %s.%s: list it once", other, name, t.schema, t.table)
		}
		seen[k] = name
		out = append(out, t)
	}
	return out, nil
}

func (s *Source) streamTable(ctx context.Context, name string) (streamedTable, error) {
	schema, table, err := s.split(name)
	if err != nil {
		return streamedTable{}, err
	}
	t := streamedTable{name: name}
	var kind string
	err = s.queryRow(ctx, []any{&t.schema, &t.table, &kind},
		"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table)
	if errors.Is(err, sql.ErrNoRows) {
		return streamedTable{}, fmt.Errorf("%w: %s (in database %s)", litepull.ErrNoTable, name, schema)
	}
	if err != nil {
		return streamedTable{}, fmt.Errorf("look up table %s: %w", name, err)
	}
	if kind != "BASE TABLE" {
		return streamedTable{}, fmt.Errorf("%s is not a table (%s): only tables' changes are in the binlog", name, kind)
	}
	if err := s.checkBinlogColumns(ctx, name); err != nil {
		return streamedTable{}, err
	}
	keys, err := s.UniqueKeys(ctx, name)
	if err != nil {
		return streamedTable{}, fmt.Errorf("look up the keys of %s: %w", name, err)
	}
	for _, k := range keys {
		if len(k) > 0 {
			return t, nil
		}
	}
	return streamedTable{}, fmt.Errorf("%w: %s has no primary key or unique key, so its changes cannot name their rows in the replica: "+
		"add a primary key (or a unique key of NOT NULL columns, and set primaryKey to its columns)", litepull.ErrNoPrimaryKey, name)
}

// tableKey is how the binlog's table names are matched: without case
// where the server folds them.
func tableKey(schema, table string, foldCase bool) [2]string {
	if foldCase {
		return [2]string{strings.ToLower(schema), strings.ToLower(table)}
	}
	return [2]string{schema, table}
}

// checkBinlogColumns refuses a table with a column whose binlog values
// cannot be made what polling stores (binlogSupported): streamed, its
// replica would differ from a polled one.
func (s *Source) checkBinlogColumns(ctx context.Context, name string) error {
	ts, err := s.Describe(ctx, name)
	if err != nil {
		return err
	}
	h := ts.Handle.(*handle)
	for _, c := range ts.Columns {
		if err := h.columns[c.Name].binlogSupported(); err != nil {
			return fmt.Errorf("column %s of %s: %w", c.Name, name, err)
		}
	}
	return nil
}
