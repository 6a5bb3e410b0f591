package postgres

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

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
	Note string // what litepull learned of the process, if anything
}

func (e *slotInUseError) Error() string {
	note := ""
	if e.Note != "" {
		note = " " + e.Note + "."
	}
	return fmt.Sprintf("replication slot %s is in use by process %d at the source: is another litepull streaming from it?%s "+
		"Stop it; or, if that process is stuck, end it: SELECT pg_terminate_backend(%d)", e.Slot, e.PID, note, e.PID)
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

// releaseMargin is how long past the holder's wal_sender_timeout a
// stream waits for a slot to be released.
const releaseMargin = 5 * time.Second

const holderSQL = `
SELECT COALESCE(a.application_name, ''), COALESCE(host(a.client_addr), 'a local socket'),
       COALESCE(r.reply_time::text, ''), (SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout')
FROM pg_stat_activity a LEFT JOIN pg_stat_replication r ON r.pid = a.pid WHERE a.pid = $1`

// slotHolder is the process streaming from a slot, as the server shows it.
type slotHolder struct {
	app, from string
	reply     string        // when the server last heard from its client
	timeout   time.Duration // the server's wal_sender_timeout
}

func (s *Source) slotHolder(ctx context.Context, pid int) (slotHolder, error) {
	var h slotHolder
	err := s.exec(ctx, holderSQL, []any{pid}, nil, func(v [][]byte) error {
		h = slotHolder{app: string(v[0]), from: string(v[1]), reply: string(v[2])}
		ms, err := strconv.ParseInt(string(v[3]), 10, 64)
		h.timeout = time.Duration(ms) * time.Millisecond
		return err
	})
	return h, err
}

// waitForSlot waits for the process in inUse to let go of the slot: a
// litepull killed while it streamed leaves a walsender that holds the slot
// until the server notices its client is gone, within wal_sender_timeout
// (which litepull's sessions set to the read timeout). It never ends that
// process: one that shows it is alive (its client answers the server) is
// another litepull streaming, and the slot is refused at once.
func (s *Source) waitForSlot(ctx context.Context, opts litepull.ChangeOptions, inUse *slotInUseError) (slotState, error) {
	h, err := s.slotHolder(ctx, inUse.PID)
	if err != nil {
		return slotState{}, inUse
	}
	timeout, setting := h.timeout, "the server's wal_sender_timeout"
	if h.app == "litepull" {
		timeout, setting = s.dialer.Idle, "wal_sender_timeout, which litepull sets to its readTimeout,"
	}
	if timeout <= 0 {
		inUse.Note = "Its wal_sender_timeout is 0: the server never ends it on its own"
		return slotState{}, inUse
	}
	wait := timeout + releaseMargin
	if opts.Logger != nil {
		opts.Logger.Info("the replication slot is in use; waiting for the process that holds it to let go: a litepull stopped without "+
			"closing its stream (kill -9, a lost connection) holds it until the server notices, within "+setting+" "+timeout.String(),
			"slot", opts.Slot, "message", fmt.Sprintf("replication slot %s is in use by process %d (%s, from %s); waiting up to %s",
				opts.Slot, inUse.PID, cmp.Or(h.app, "no application_name"), h.from, wait.Round(time.Second)))
	}
	deadline := time.Now().Add(wait)
	for {
		select {
		case <-ctx.Done():
			return slotState{}, fmt.Errorf("wait for replication slot %s: %w", opts.Slot, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
		st, err := s.slot(ctx, opts.Slot)
		if err != nil {
			return slotState{}, err
		}
		if !st.active || st.pid != inUse.PID {
			return st, nil
		}
		now, err := s.slotHolder(ctx, inUse.PID)
		switch {
		case err == nil && now.reply != "" && now.reply != h.reply:
			inUse.Note = "It is alive: its client answered the server while litepull waited"
			return slotState{}, inUse
		case time.Now().After(deadline):
			inUse.Note = fmt.Sprintf("Litepull waited %s for it to let go", wait.Round(time.Second))
			return slotState{}, inUse
		}
	}
}
