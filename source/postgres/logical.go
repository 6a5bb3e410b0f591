package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/litepull/litepull"
)

var (
	_ litepull.ChangeSource  = (*Source)(nil)
	_ litepull.ChangeChecker = (*Source)(nil)
)

// OpenChanges checks that the server can stream the tables' changes,
// makes the publication hold exactly opts.Tables, and creates the slot if
// it is absent. The stream starts with Start.
func (s *Source) OpenChanges(ctx context.Context, opts litepull.ChangeOptions) (litepull.ChangeStream, error) {
	if err := checkChangeNames(opts); err != nil {
		return nil, err
	}
	if len(opts.Tables) == 0 {
		return nil, fmt.Errorf("stream changes of publication %s: no tables", opts.Publication)
	}
	if err := s.checkServer(ctx); err != nil {
		return nil, err
	}
	tables, err := s.streamTables(ctx, opts.Tables)
	if err != nil {
		return nil, err
	}
	slot, err := s.slot(ctx, opts.Slot)
	if err != nil {
		return nil, err
	}
	var inUse *slotInUseError
	if err := slot.usable(opts.Slot); errors.As(err, &inUse) {
		if slot, err = s.waitForSlot(ctx, opts, inUse); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if err := slot.usable(opts.Slot); err != nil {
		return nil, err
	}
	// The publication comes first: pgoutput reads it as of each change it
	// decodes, and a slot older than its publication fails on the changes
	// made in between.
	joined, err := s.ensurePublication(ctx, opts.Publication, tables, opts.Joining)
	if err != nil {
		return nil, err
	}
	if !slot.exists {
		if err := s.createStreamSlot(ctx, opts.Slot); err != nil {
			return nil, err
		}
	}
	ident, err := s.identify(ctx)
	if err != nil {
		return nil, err
	}
	st := newStream(s, opts, ident, tables, joined)
	st.made = !slot.exists
	return st, nil
}

// checkChangeNames checks the slot's and publication's names: they reach
// SQL and replication commands.
// CheckChanges checks what OpenChanges checks, creating nothing: the
// names, wal_level and privileges, each table's replica identity, and the
// slot, if it exists.
func (s *Source) CheckChanges(ctx context.Context, opts litepull.ChangeOptions) error {
	if err := checkChangeNames(opts); err != nil {
		return err
	}
	if err := s.checkServer(ctx); err != nil {
		return err
	}
	if _, err := s.streamTables(ctx, opts.Tables); err != nil {
		return err
	}
	slot, err := s.slot(ctx, opts.Slot)
	if err != nil {
		return err
	}
	var inUse *slotInUseError
	if err := slot.usable(opts.Slot); err != nil && !errors.As(err, &inUse) {
		return err // a slot in use is what a running daemon shows
	}
	return nil
}

func checkChangeNames(opts litepull.ChangeOptions) error {
	if !slotName.MatchString(opts.Slot) {
		return fmt.Errorf("%w: replication slot name %q: use 1 to 63 lowercase letters, digits and underscores", litepull.ErrBadIdentifier, opts.Slot)
	}
	return litepull.CheckIdent("publication", opts.Publication)
}

// createStreamSlot creates the stream's slot on a replication connection
// of its own.
func (s *Source) createStreamSlot(ctx context.Context, slot string) error {
	conn, err := s.dialReplication(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	_, err = s.createSlot(ctx, conn, slot, false, "NOEXPORT_SNAPSHOT")
	return err
}

const serverSQL = `
SELECT current_setting('wal_level'), r.rolname,
       (r.rolreplication OR r.rolsuper OR EXISTS (
          SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication' AND pg_has_role(r.oid, g.oid, 'MEMBER')))::text
FROM pg_roles r WHERE r.rolname = current_user`

// checkServer checks the server's wal_level and the role's right to
// stream.
func (s *Source) checkServer(ctx context.Context) error {
	var level, role string
	var canReplicate bool
	err := s.exec(ctx, serverSQL, nil, nil, func(v [][]byte) error {
		level, role, canReplicate = string(v[0]), string(v[1]), string(v[2]) == "true"
		return nil
	})
	if err != nil {
		return fmt.Errorf("check that the source can stream changes: %w", err)
	}
	if err := walLevelError(level, s.host()); err != nil {
		return err
	}
	if !canReplicate {
		return fmt.Errorf("role %s may not stream changes: it needs the REPLICATION attribute: "+
			"ALTER ROLE %s REPLICATION (as a superuser); on RDS or Aurora: GRANT rds_replication TO %s", role, role, role)
	}
	return nil
}

// host is the server's host name, for the hints that depend on who runs
// it.
func (s *Source) host() string {
	host, _, _ := net.SplitHostPort(s.addr)
	return host
}

// walLevelError says how to enable logical decoding on a server whose
// wal_level is level, the way host's provider does it; nil if it is on.
func walLevelError(level, host string) error {
	if level == "logical" {
		return nil
	}
	host = strings.ToLower(host)
	var fix string
	switch {
	case strings.HasSuffix(host, ".supabase.co") || strings.HasSuffix(host, ".supabase.com"):
		fix = "Supabase runs with wal_level = logical already: check that the dsn is the project's own database " +
			"(a direct or session-mode connection)"
	case strings.HasSuffix(host, ".neon.tech"):
		fix = "on Neon, enable logical replication in the project's settings (Settings → Logical Replication)"
	case strings.HasSuffix(host, ".rds.amazonaws.com"):
		fix = "on RDS or Aurora, set rds.logical_replication = 1 in the DB (cluster) parameter group and reboot the instance"
	default:
		fix = "ALTER SYSTEM SET wal_level = logical; then restart the server (on Neon, enable logical replication " +
			"in the project's settings; on RDS or Aurora, set rds.logical_replication = 1 in the parameter group " +
			"and reboot; Supabase has it on already)"
	}
	return fmt.Errorf("the source's wal_level is %q, and streaming changes needs logical: %s", level, fix)
}

// DropChanges drops the slot and the publication. Absent ones are not an
// error; a slot in use is, once a walsender left by a stopped litepull
// has had its time to let go (waitForSlot).
func (s *Source) DropChanges(ctx context.Context, opts litepull.ChangeOptions) error {
	if err := checkChangeNames(opts); err != nil {
		return err
	}
	slot, err := s.slot(ctx, opts.Slot)
	if err != nil {
		return err
	}
	if slot.active {
		if slot, err = s.waitForSlot(ctx, opts, &slotInUseError{Slot: opts.Slot, PID: slot.pid}); err != nil {
			return err
		}
		if slot.active {
			return &slotInUseError{Slot: opts.Slot, PID: slot.pid}
		}
	}
	if slot.exists {
		err := s.exec(ctx, "SELECT pg_drop_replication_slot($1)", []any{opts.Slot}, nil, func([][]byte) error { return nil })
		if err != nil && !isCode(err, "42704") { // dropped meanwhile
			return fmt.Errorf("drop replication slot %s: %w", opts.Slot, s.explainSlot(ctx, opts.Slot, err, 0))
		}
	}
	pub := litepull.QuoteIdent(opts.Publication, '"')
	if err := s.exec(ctx, "DROP PUBLICATION IF EXISTS "+pub, nil, nil, func([][]byte) error { return nil }); err != nil {
		return fmt.Errorf("drop publication %s: %w", opts.Publication, err)
	}
	return nil
}

// isCode reports a Postgres error with SQLSTATE code.
func isCode(err error, code string) bool {
	pgErr, ok := asPgError(err)
	return ok && pgErr.Code == code
}

func asPgError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	ok := errors.As(err, &pgErr)
	return pgErr, ok
}
