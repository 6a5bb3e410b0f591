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
	var pos litepull.Position
	err := st.src.exec(ctx, "SELECT pg_current_wal_lsn()::text", nil, nil, func(v [][]byte) error {
		pos = litepull.Position(v[0])
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the source's WAL position: %w", err)
	}
	return pos, nil
}

// Resumable says why the stream cannot carry on after pos: the slot's
// confirmed position is past it, so the changes in between will never
// be sent (another consumer moved the slot, or it was dropped and made
// again).
func (st *stream) Resumable(ctx context.Context, pos litepull.Position) error {
	confirmed, err := st.Confirmed(ctx)
	if err != nil {
		return err
	}
	if st.Includes(confirmed, pos) {
		return fmt.Errorf("slot %s is at %s, past what the replica holds (%s): another consumer moved it, or it was dropped and made again",
			st.opts.Slot, confirmed, pos)
	}
	return nil
}

// Confirmed is the slot's confirmed_flush_lsn.
func (st *stream) Confirmed(ctx context.Context) (litepull.Position, error) {
	lsn, err := st.confirmed(ctx)
	if err != nil {
		return "", err
	}
	return position(lsn), nil
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
		out.Confirmed, out.Active, out.Current = litepull.Position(v[0]), string(v[1]) == "true", litepull.Position(v[3])
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
