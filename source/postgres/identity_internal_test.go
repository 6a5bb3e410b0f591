package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/litepull/litepull"
)

// TestSplitPosition: positions carry their cluster and timeline; an LSN
// alone (written before they did) still reads, without them.
func TestSplitPosition(t *testing.T) {
	id := sysIdent{system: "7301234567890123456", timeline: 3}
	p := id.tag(0x16_B374D848)
	if p != "16/B374D848@7301234567890123456:3" {
		t.Fatalf("tag = %q", p)
	}
	lsn, got, ok, err := splitPosition(p)
	if err != nil || !ok || got != id || lsn != 0x16_B374D848 {
		t.Errorf("splitPosition(%q) = %v, %v, %v, %v", p, lsn, got, ok, err)
	}
	if n, err := parseLSN(p); err != nil || n != 0x16_B374D848 {
		t.Errorf("parseLSN(%q) = %v, %v: want the LSN alone", p, n, err)
	}
	lsn, _, ok, err = splitPosition("16/B374D848")
	if err != nil || ok || lsn != 0x16_B374D848 {
		t.Errorf("an untagged position: %v, %v, %v", lsn, ok, err)
	}
	for _, bad := range []litepull.Position{"16/B374D848@", "16/B374D848@7301:", "16/B374D848@:1", "16/B374D848@73:x", "x@73:1"} {
		if _, _, _, err := splitPosition(bad); err == nil {
			t.Errorf("splitPosition(%q): no error", bad)
		}
	}
	st := &stream{}
	if !st.Includes(id.tag(0x20), "0/10") || st.Includes("0/10", id.tag(0x20)) {
		t.Error("Includes compares tagged and untagged positions by their LSNs")
	}
}

// TestTimelineSwitch: after a failover (a new timeline of the same
// cluster) a position carries on only if it lies at or before the point
// where its timeline ended in the new timeline's history.
func TestTimelineSwitch(t *testing.T) {
	history := []byte("1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tat restore point \"x\"\n")
	for _, c := range []struct {
		from int32
		want pglogrepl.LSN
		ok   bool
	}{{1, 0x3000158, true}, {2, 0x5000000, true}, {3, 0, false}} {
		got, ok, err := historySwitch(history, c.from)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("historySwitch(timeline %d) = %v, %v, %v; want %v, %v", c.from, got, ok, err, c.want, c.ok)
		}
	}
	rec, now := sysIdent{"73", 1}, sysIdent{"73", 3}
	for _, c := range []struct {
		lsn, sw pglogrepl.LSN
		ok      bool
		lost    bool
	}{
		{0x3000000, 0x3000158, true, false}, // before the switch: shared WAL
		{0x3000158, 0x3000158, true, false}, // exactly at it
		{0x3000160, 0x3000158, true, true},  // past it: changes the new timeline lacks
		{0x1000000, 0, false, true},         // not in the history
	} {
		err := pastSwitch(c.lsn, rec, now, c.sw, c.ok)
		if lost := errors.Is(err, litepull.ErrStreamLost); lost != c.lost {
			t.Errorf("position %s, switch %s (in history: %v): %v; want lost %v", c.lsn, c.sw, c.ok, err, c.lost)
		}
	}
	s := &Source{}
	for _, c := range []struct {
		rec, now sysIdent
		lost     bool
	}{{sysIdent{"73", 1}, sysIdent{"73", 1}, false}, {sysIdent{"73", 1}, sysIdent{"99", 1}, true}, {sysIdent{"73", 2}, sysIdent{"73", 1}, true}} {
		err := s.notSameHistory(t.Context(), 0x10, c.rec, c.now)
		if lost := errors.Is(err, litepull.ErrStreamLost); lost != c.lost {
			t.Errorf("recorded %v, source %v: %v; want lost %v", c.rec, c.now, err, c.lost)
		}
	}
}
