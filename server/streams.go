package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/litepull/litepull"
)

// streamStatus is one source's change stream in GET /replicate/status:
// the replica's record of it, the slot as the engine last read it, and
// the follower's state.
type streamStatus struct {
	SourceID    string `json:"sourceId"`
	Slot        string `json:"slot"`
	Publication string `json:"publication"`
	// Position is the last source transaction applied, with its commit
	// time at the source and when it was applied here: the replica's
	// record (or, when that cannot be read, the engine's last view).
	Position litepull.Position `json:"position"`
	Commit   *time.Time        `json:"commitTs"`
	Applied  *time.Time        `json:"appliedTs"`
	// SlotStatus, LagSeconds and StatusTs: the slot at the source and the
	// stream's lag, as last read (every few seconds while it streams); null
	// before the first read. Error is why the last read failed.
	SlotStatus *litepull.StreamStatus `json:"slotStatus"`
	LagSeconds *float64               `json:"lagSeconds"`
	StatusTs   *time.Time             `json:"statusTs"`
	Error      string                 `json:"error,omitempty"`
	// WaitingTables are tables copied from a snapshot that wait for the
	// stream to reach the snapshot's position, to be swapped in together
	// (until then readers see their old rows, or none).
	WaitingTables []string `json:"waitingTables,omitempty"`
	// The follower: whether a session is open, since when, and its
	// failures.
	Following           bool       `json:"following"`
	FollowingSince      *time.Time `json:"followingSince"`
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	BackoffUntil        *time.Time `json:"backoffUntil"`
	LastError           string     `json:"lastError,omitempty"`
	// StateError is why the replica's record could not be read.
	StateError string `json:"stateError,omitempty"`
}

// streamStatuses lists the change stream of every source with changes:
// logical, in config order.
func (s *Server) streamStatuses(ctx context.Context) []streamStatus {
	infos := map[string]litepull.StreamInfo{}
	for _, si := range s.streamInfos() {
		infos[si.SourceID] = si
	}
	follow := map[string]FollowerStatus{}
	for _, f := range s.followerStatuses() {
		follow[f.SourceID] = f
	}
	recorded := map[string]litepull.StreamState{}
	states, stateErr := s.streamStates(ctx)
	for _, st := range states {
		recorded[st.SourceID] = st
	}
	out := []streamStatus{}
	for _, sc := range s.cfg.Sources {
		if !sc.Streams() {
			continue
		}
		opts := sc.ChangeOptions(nil)
		st := streamStatus{SourceID: sc.ID, Slot: opts.Slot, Publication: opts.Publication}
		if stateErr != nil {
			st.StateError = fmt.Sprintf("read the replica's record of the stream: %v", stateErr)
		}
		si, seen := infos[sc.ID]
		if rec, ok := recorded[sc.ID]; ok {
			st.Position, st.Commit, st.Applied = rec.Position, timePtr(rec.Commit), timePtr(rec.Applied)
		} else if stateErr != nil && seen {
			st.Position = si.Position
		}
		if seen {
			slot, lag := si.Status, si.LagSeconds
			st.SlotStatus, st.LagSeconds, st.StatusTs, st.Error = &slot, &lag, timePtr(si.Updated), si.Error
			st.WaitingTables = si.Waiting
		}
		if f, ok := follow[sc.ID]; ok {
			st.Following, st.FollowingSince, st.ConsecutiveFailures = f.Following, timePtr(f.Since), f.ConsecutiveFailures
			st.BackoffUntil, st.LastError = timePtr(f.BackoffUntil), f.LastError
		}
		out = append(out, st)
	}
	return out
}

// timePtr is t for JSON, null when zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// followerStatuses lists the followers' states.
func (s *Server) followerStatuses() []FollowerStatus {
	out := make([]FollowerStatus, 0, len(s.followers))
	for _, f := range s.followers {
		out = append(out, f.Status())
	}
	return out
}

// streamingNotes answers for the sources whose change stream is open in
// this daemon: the engine refuses to run them (ErrStreaming), their tables
// being kept up to date already, so each of their tables gets a note
// instead of an error. ran is sum without them: what did run, for the
// metrics.
func (s *Server) streamingNotes(ctx context.Context, sum *litepull.Summary, opts litepull.RunOptions) (shown, ran *litepull.Summary) {
	shown, ran = &litepull.Summary{Duration: sum.Duration}, &litepull.Summary{Duration: sum.Duration}
	for _, t := range sum.Tables {
		if errors.Is(t.Err, litepull.ErrStreaming) {
			shown.Tables = append(shown.Tables, s.streamedTables(ctx, t.SourceID, opts)...)
			continue
		}
		shown.Tables = append(shown.Tables, t)
		ran.Tables = append(ran.Tables, t)
	}
	return shown, ran
}

// streamedTables are the results of a streaming source's tables (those
// the replica holds, or "*" when it holds none yet): each notes that it
// follows the source and where it stands.
func (s *Server) streamedTables(ctx context.Context, sourceID string, opts litepull.RunOptions) []litepull.TableResult {
	note := fmt.Sprintf("source %s streams its changes in this daemon (changes: logical): its tables follow the source continuously, there is nothing to run", sourceID)
	if opts.Full || opts.Reconcile {
		note += fmt.Sprintf("; full and reconcile are not done while it streams: stop the daemon, then litepull run -full -source %s copies it again", sourceID)
	}
	var out []litepull.TableResult
	states, err := s.cfg.Replica.States(ctx)
	if err != nil {
		s.logger.Warn("read state table", litepull.LogKeyError, err)
	}
	for _, st := range states {
		if st.SourceID != sourceID || (opts.Table != "" && opts.Table != st.Table && opts.Table != st.Dest) {
			continue
		}
		out = append(out, litepull.TableResult{SourceID: sourceID, Table: st.Table, Dest: st.Dest,
			CursorValue: st.CursorValue, NullCursorRows: -1, Note: note})
	}
	if len(out) == 0 {
		out = []litepull.TableResult{{SourceID: sourceID, Table: "*", NullCursorRows: -1, Note: note}}
	}
	return out
}
