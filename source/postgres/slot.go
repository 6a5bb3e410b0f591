package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/litepull/litepull"
)

// slotState is a replication slot as pg_replication_slots shows it.
type slotState struct {
	exists    bool
	plugin    string
	kind      string // slot_type: logical or physical
	database  string // the slot's database
	here      string // the database the source is connected to
	walStatus string // reserved, extended, unreserved, lost
	active    bool
	pid       int // the process streaming from it, when active
}

const slotSQL = `
SELECT COALESCE(s.plugin, ''), s.slot_type, COALESCE(s.database::text, ''), current_database()::text,
       COALESCE(s.wal_status, ''), s.active::text, COALESCE(s.active_pid, 0)::text
FROM pg_replication_slots s WHERE s.slot_name = $1`

// slot reads the slot called name; an absent one has exists false.
func (s *Source) slot(ctx context.Context, name string) (slotState, error) {
	var st slotState
	err := s.exec(ctx, slotSQL, []any{name}, nil, func(v [][]byte) error {
		st = slotState{exists: true, plugin: string(v[0]), kind: string(v[1]), database: string(v[2]), here: string(v[3]),
			walStatus: string(v[4]), active: string(v[5]) == "true"}
		var err error
		st.pid, err = strconv.Atoi(string(v[6]))
		return err
	})
	if err != nil {
		return slotState{}, fmt.Errorf("look up replication slot %s: %w", name, err)
	}
	return st, nil
}

// usable says why the stream cannot use the existing slot called name, if
// it cannot: a slot of another kind or database, one the server
// invalidated, or one another process streams from.
func (st slotState) usable(name string) error {
	switch {
	case !st.exists:
		return nil
	case st.kind != "logical" || st.plugin != "pgoutput":
		return fmt.Errorf("replication slot %s is a %s slot of plugin %q, not a logical pgoutput slot: name another slot, "+
			"or drop it if nothing uses it (SELECT pg_drop_replication_slot('%s'))", name, st.kind, st.plugin, name)
	case st.database != st.here:
		return fmt.Errorf("replication slot %s belongs to database %s, not %s: name another slot", name, st.database, st.here)
	case st.walStatus == "lost":
		return fmt.Errorf("replication slot %s was invalidated: the source removed WAL it still needed "+
			"(max_slot_wal_keep_size): %w", name, litepull.ErrStreamLost)
	case st.active:
		return &slotInUseError{Slot: name, PID: st.pid}
	}
	return nil
}

// slotInUseError is a slot another process streams from: Postgres lets
// one process at a time use a slot.
type slotInUseError struct {
	Slot string
	PID  int
}

func (e *slotInUseError) Error() string {
	return fmt.Sprintf("replication slot %s is in use by process %d at the source: is another litepull streaming from it? "+
		"Stop it; or, if that process is stuck, end it: SELECT pg_terminate_backend(%d)", e.Slot, e.PID, e.PID)
}

// explainSlot explains a server's refusal to stream from, or drop, the
// slot called name by the slot's state: invalidated, or in use by a
// process other than self (the stream's own, or 0). Other errors are
// returned as they are.
func (s *Source) explainSlot(ctx context.Context, name string, err error, self uint32) error {
	if _, ok := asPgError(err); !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelWait)
	defer cancel()
	st, serr := s.slot(ctx, name)
	if serr != nil || !st.exists {
		return err
	}
	if st.active && st.pid == int(self) {
		st.active = false
	}
	if uerr := st.usable(name); uerr != nil {
		return uerr
	}
	return err
}
