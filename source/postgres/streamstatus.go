package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
)

// Current is the source's current WAL position.
func (st *stream) Current(ctx context.Context) (litepull.Position, error) {
	var lsn pglogrepl.LSN
	err := st.src.exec(ctx, "SELECT pg_current_wal_lsn()::text", nil, nil, func(v [][]byte) error {
		var err error
		lsn, err = parseLSN(litepull.Position(v[0]))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the source's WAL position: %w", err)
	}
	return st.ident.tag(lsn), nil
}

// Resumable says why the stream cannot carry on after pos: the slot was
// made by this session, so it holds none of the changes since pos (even
// when it was made at an LSN before pos: on a server restored to an
// earlier point, or another cluster); pos was read from another cluster,
// or from a timeline the source's history left before pos
// (notSameHistory); the source's WAL ends before pos (a restored backup);
// or the slot's confirmed position is past pos, so the changes in between
// will never be sent (another consumer moved the slot, or it was dropped
// and made again). A position written before positions carried their
// cluster is checked against the slot alone. A slot it refuses for having
// made it is dropped again by Close, unless a snapshot was taken or the
// stream started (its tables are copied anew): left, the next session
// would take it for the replica's. Verdicts wrap litepull.ErrStreamLost;
// other errors are failures to check.
func (st *stream) Resumable(ctx context.Context, pos litepull.Position) error {
	lsn, rec, tagged, err := splitPosition(pos)
	if err != nil {
		return litepull.StreamLost(err)
	}
	if st.made {
		st.refused = true
		return litepull.StreamLost(fmt.Errorf("slot %s did not exist (dropped, or the source is another server than the one the replica "+
			"followed), so it holds none of the changes made since the replica's position %s", st.opts.Slot, pos))
	}
	if tagged {
		if err := st.src.notSameHistory(ctx, lsn, rec, st.ident); err != nil {
			return err
		}
	}
	status, err := st.slotStatus(ctx)
	if err != nil {
		return err
	}
	if end, err := parseLSN(status.Current); err == nil && lsn > end {
		return litepull.StreamLost(fmt.Errorf("the replica's position %s lies past the end of the source's WAL (%s): the source was "+
			"restored from a backup, or is another server: the changes made since are lost to the replica", pos, status.Current))
	}
	confirmed := status.Confirmed
	if st.Includes(confirmed, pos) {
		return litepull.StreamLost(fmt.Errorf("slot %s is at %s, past what the replica holds (%s): another consumer moved it (two replicas "+
			"of one source need a slot each: set slot: and publication: in one of the configs), or it was dropped and made again",
			st.opts.Slot, confirmed, pos))
	}
	return nil
}

// Confirmed is the slot's confirmed_flush_lsn.
func (st *stream) Confirmed(ctx context.Context) (litepull.Position, error) {
	lsn, err := st.confirmed(ctx)
	if err != nil {
		return "", err
	}
	return st.ident.tag(lsn), nil
}

func (st *stream) confirmed(ctx context.Context) (pglogrepl.LSN, error) {
	status, err := st.slotStatus(ctx)
	if err != nil {
		return 0, err
	}
	return parseLSN(status.Confirmed)
}

const streamStatusSQL = `
SELECT COALESCE(confirmed_flush_lsn::text, ''), active::text, COALESCE(active_pid, 0)::text, pg_current_wal_lsn()::text,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::int8::text,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8::text
FROM pg_replication_slots WHERE slot_name = $1`

// Status describes the slot: where it is confirmed, how far the source is
// past it, how much WAL it holds back, and who streams from it. It also
// checks that the publication still publishes the stream's tables
// (litepull.ErrStreamChanged).
func (st *stream) Status(ctx context.Context) (litepull.StreamStatus, error) {
	out, err := st.slotStatus(ctx)
	if err != nil {
		return out, err
	}
	return out, st.checkPublished(ctx)
}

func (st *stream) slotStatus(ctx context.Context) (litepull.StreamStatus, error) {
	out := litepull.StreamStatus{Slot: st.opts.Slot}
	found := false
	err := st.src.exec(ctx, streamStatusSQL, []any{st.opts.Slot}, nil, func(v [][]byte) error {
		found = true
		out.Confirmed, out.Active, out.Current = st.tagText(v[0]), string(v[1]) == "true", st.tagText(v[3])
		var err1, err2, err3 error
		out.ActivePID, err1 = strconv.Atoi(string(v[2]))
		out.LagBytes, err2 = strconv.ParseInt(string(v[4]), 10, 64)
		out.RetainedBytes, err3 = strconv.ParseInt(string(v[5]), 10, 64)
		return errors.Join(err1, err2, err3)
	})
	if err == nil && !found {
		err = fmt.Errorf("the slot is gone (dropped at the source?); the stream must be made anew: %w", litepull.ErrStreamLost)
	}
	if err != nil {
		return litepull.StreamStatus{}, fmt.Errorf("read replication slot %s: %w", st.opts.Slot, err)
	}
	return out, nil
}

// checkPublished checks that the publication still publishes every table
// the stream follows: a table dropped (and perhaps made again under its
// name) or taken out of the publication sends nothing more, so its
// replica would silently stand still.
func (st *stream) checkPublished(ctx context.Context) error {
	published := map[uint32]bool{}
	err := st.src.exec(ctx, publishedSQL, []any{st.opts.Publication}, nil, func(v [][]byte) error {
		oid, err := strconv.ParseUint(string(v[0]), 10, 32)
		published[uint32(oid)] = true
		return err
	})
	if err != nil {
		return fmt.Errorf("read publication %s: %w", st.opts.Publication, err)
	}
	for oid, name := range st.tables {
		if !published[oid] {
			return fmt.Errorf("publication %s no longer publishes table %s as the stream began (dropped, re-created or taken out of it at the source): "+
				"streaming it anew: %w", st.opts.Publication, name, litepull.ErrStreamChanged)
		}
	}
	return st.checkNames(ctx)
}

// checkNames checks that each configured name still names the table the
// stream follows: a table renamed away, with another renamed in under its
// name (a schema migration's swap), would otherwise stream on from the
// old table, which nobody writes, while the new one's rows never reach
// the replica.
func (st *stream) checkNames(ctx context.Context) error {
	for oid, name := range st.tables {
		quoted, err := st.src.qualify(name)
		if err != nil {
			return err
		}
		var now uint64
		err = st.src.exec(ctx, "SELECT COALESCE(to_regclass($1)::oid, 0)::int8::text", []any{quoted}, nil, func(v [][]byte) error {
			n, perr := strconv.ParseUint(string(v[0]), 10, 32)
			now = n
			return perr
		})
		if err != nil {
			return fmt.Errorf("look up table %s: %w", name, err)
		}
		if uint32(now) != oid {
			return fmt.Errorf("table %s is not the table the stream began with (renamed, or another renamed in under its name): "+
				"streaming it anew: %w", name, litepull.ErrStreamChanged)
		}
	}
	return nil
}

// tagText tags an LSN the server wrote as text ("" stays "").
func (st *stream) tagText(v []byte) litepull.Position {
	lsn, err := parseLSN(litepull.Position(v))
	if len(v) == 0 || err != nil {
		return litepull.Position(v)
	}
	return st.ident.tag(lsn)
}
