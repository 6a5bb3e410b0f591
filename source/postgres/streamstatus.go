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
	status, err := st.Status(ctx)
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
// past it, how much WAL it holds back, and who streams from it.
func (st *stream) Status(ctx context.Context) (litepull.StreamStatus, error) {
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
