package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// sessionParams are the settings of a replication session. The walsender
// writes every value as text in them, and the change decoders parse that
// text: ISO dates, UTC, hex bytea, floats with every digit.
var sessionParams = map[string]string{
	"application_name":   "litepull",
	"DateStyle":          "ISO",
	"TimeZone":           "UTC",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"extra_float_digits": "3",
}

// cancelWait is how long a replication command whose context ended waits
// for the server to answer the cancel request before the connection is
// closed under it.
const cancelWait = 2 * time.Second

// replicationConfig is the pool's connection config (the source's dialer
// and connect timeout, TLS, credentials) for a logical replication
// connection in litepull's session settings. A command whose context ends
// is cancelled at the server: a slot creation waiting for transactions
// then gives up there too, instead of creating the slot after its client
// left.
func (s *Source) replicationConfig() *pgconn.Config {
	cc := s.pool.Config().ConnConfig.Config.Copy()
	params := map[string]string{"replication": "database"}
	for k, v := range cc.RuntimeParams {
		if !isSessionParam(k) {
			params[k] = v
		}
	}
	for k, v := range sessionParams {
		params[k] = v
	}
	// The walsender answers status updates while it decodes a large
	// transaction only every wal_sender_timeout/2: within the read timeout
	// when that is the session's wal_sender_timeout (unless the dsn sets
	// one), so that a stream busy decoding is not taken for a dead one.
	if !hasParam(cc.RuntimeParams, "wal_sender_timeout") {
		params["wal_sender_timeout"] = strconv.FormatInt(s.dialer.Idle.Milliseconds(), 10) + "ms"
	}
	cc.RuntimeParams = params
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelWait}
	}
	return cc
}

// isSessionParam reports a runtime parameter that replicationConfig sets
// itself (parameter names are case-insensitive: the pool's "timezone").
func isSessionParam(name string) bool {
	if strings.EqualFold(name, "replication") {
		return true
	}
	for k := range sessionParams {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// hasParam reports whether params set the named one (names are
// case-insensitive).
func hasParam(params map[string]string, name string) bool {
	for k := range params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// dialReplication opens a logical replication connection.
func (s *Source) dialReplication(ctx context.Context) (*pgconn.PgConn, error) {
	conn, err := pgconn.ConnectConfig(ctx, s.replicationConfig())
	if err != nil {
		return nil, fmt.Errorf("open a replication connection: %w", explainConnect(ctx, s.timeout(ctx, err)))
	}
	return conn, nil
}

// closeConn closes a connection within closeWait, whatever the server does.
func closeConn(conn *pgconn.PgConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	return conn.Close(ctx)
}

// slotName is what Postgres accepts as a replication slot's name.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// snapshotSlotName is a unique name for a snapshot's temporary slot,
// derived from the stream's slot and at most 63 characters long.
func snapshotSlotName(slot string) string {
	var b [4]byte
	rand.Read(b[:])
	suffix := "_snap_" + hex.EncodeToString(b[:])
	return slot[:min(len(slot), 63-len(suffix))] + suffix
}

// createSlot creates the logical pgoutput slot name on conn, with the
// snapshot action given (NOEXPORT_SNAPSHOT, EXPORT_SNAPSHOT). Postgres
// makes a slot consistent only once every transaction that had written
// when it began has ended: the wait is bounded by ctx and by the read
// timeout, and one that runs out says which transactions held it up.
func (s *Source) createSlot(ctx context.Context, conn *pgconn.PgConn, name string, temporary bool, snapshot string) (pglogrepl.CreateReplicationSlotResult, error) {
	// The wait ends just before the read timeout would break the
	// connection, so that the server is told to give up (cancelWait).
	wait, cancel := context.WithTimeout(ctx, s.dialer.Idle*9/10)
	defer cancel()
	start := time.Now()
	res, err := pglogrepl.CreateReplicationSlot(wait, conn, name, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Temporary: temporary, SnapshotAction: snapshot, Mode: pglogrepl.LogicalReplication})
	switch {
	case err == nil:
		return res, nil
	case errors.Is(ctx.Err(), context.Canceled):
		return res, fmt.Errorf("create replication slot %s: %w", name, ctx.Err())
	case wait.Err() != nil:
		return res, fmt.Errorf("create replication slot %s: %w", name, s.slotWaitError(ctx, time.Since(start)))
	}
	return res, fmt.Errorf("create replication slot %s: %w", name, s.timeout(ctx, err))
}

// slotWaitError says which transactions a slot creation waited for.
func (s *Source) slotWaitError(ctx context.Context, waited time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelWait)
	defer cancel()
	const q = `
SELECT 'process ' || pid || ' (' || COALESCE(datname, '?') || ', ' || COALESCE(state, '?') ||
       ', open for ' || COALESCE(date_trunc('second', now() - xact_start)::text, '?') || ')'
FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
UNION ALL
SELECT 'prepared transaction ' || quote_literal(gid) FROM pg_prepared_xacts`
	var holders []string
	err := s.exec(ctx, q, nil, nil, func(v [][]byte) error {
		holders = append(holders, string(v[0]))
		return nil
	})
	who := "transactions that have since ended"
	switch {
	case err != nil:
		who = "transactions open at the source (listing them failed: " + err.Error() + ")"
	case len(holders) > 0:
		who = strings.Join(holders, ", ")
	}
	return fmt.Errorf("%w: waited %s for the transactions open at the source to end, held up by %s "+
		"(a slot is made only once every transaction that had written when it began has ended: "+
		"end them, or retry once they have)", context.DeadlineExceeded, waited.Round(time.Millisecond), who)
}
