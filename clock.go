package litepull

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	_ "time/tzdata" // timeZone names resolve on machines without a zoneinfo database
)

// CursorAheadTolerance is how far a timestamp watermark may be ahead of the
// source's clock before litepull warns. Every row written later with a
// real timestamp below the watermark is missed, so it is small: the clock
// skew of NTP-synchronized servers stays under it; a typo'd year,
// 'infinity', a wrong time zone or an application clock minutes fast do
// not.
const CursorAheadTolerance = time.Minute

// zoneHint is the hint of a bad timeZone.
const zoneHint = "an IANA time zone name such as America/New_York, Europe/Paris or UTC"

// checkZone validates a timeZone setting ("" is the default).
func checkZone(name string) error {
	if name == "" {
		return nil
	}
	if name == "Local" {
		return errors.New(`"Local" depends on the machine litepull runs on; name the zone the application writes in`)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("unknown time zone %q", name)
	}
	return nil
}

// ZoneOffset is a named zone's offset from UTC at t, in seconds: sources
// without a time zone database of their own (MySQL without its tz tables,
// SQLite) shift their UTC clock by it. The zone has been validated.
func ZoneOffset(zone string, t time.Time) (int, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return 0, fmt.Errorf("time zone %q: %w", zone, err)
	}
	_, off := t.In(loc).Zone()
	return off, nil
}

// zoneLayouts are the layouts of time values that carry their zone.
var zoneLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"}

// hasZone reports a time value that carries its zone or offset.
func hasZone(s string) bool {
	for _, layout := range zoneLayouts {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// cursorInstant reads a temporal cursor value as a point in time. Values
// with a zone or offset (Z, +02:00) are instants; values without one are a
// wall-clock time placed in loc. date is true for a date without a time.
// inf is true for 'infinity'. ok is false for anything else (numbers,
// text that is not a timestamp): those are not judged.
func cursorInstant(v Value, loc *time.Location) (t time.Time, date, inf, ok bool) {
	s, isText := v.(string)
	if !isText {
		return time.Time{}, false, false, false
	}
	if s == "infinity" {
		return time.Time{}, false, true, true
	}
	for _, layout := range zoneLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, false, true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04", LayoutDate} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, layout == LayoutDate, false, true
		}
	}
	return time.Time{}, false, false, false
}

// cursorAhead returns how far a watermark's cursor is ahead of now (the
// source's clock, in the zone naive values are written in), or 0 when it
// is not beyond the tolerance; +Inf for 'infinity'.
func cursorAhead(cursor Value, now time.Time) float64 {
	t, date, inf, ok := cursorInstant(cursor, now.Location())
	switch {
	case !ok:
		return 0
	case inf:
		return math.Inf(1)
	}
	tolerance := CursorAheadTolerance
	if date {
		tolerance += 24 * time.Hour // today's date in a zone ahead of the clock's
	}
	// Not t.Sub(now): it saturates at 292 years, and a year-2999 typo is
	// further ahead than that.
	ahead := float64(t.Unix()-now.Unix()) + float64(t.Nanosecond()-now.Nanosecond())/1e9
	if ahead <= tolerance.Seconds() {
		return 0
	}
	return ahead
}

// aheadMessage says what a cursor ahead of the clock does and how to
// recover.
func aheadMessage(sourceID, table, cursor, value string, ahead float64) string {
	how := fmt.Sprintf("%s ahead of the source's clock", humanSeconds(ahead))
	if math.IsInf(ahead, 1) {
		how = "past every real time"
	}
	msg := fmt.Sprintf("cursor %s.%s is at %s, %s: rows with a later real timestamp are not replicated. "+
		"Fix the row at the source, then re-read the table: litepull reset -config FILE -source %s -table %s (or litepull run -config FILE -full -source %s -table %s)",
		table, cursor, value, how, sourceID, table, sourceID, table)
	if !math.IsInf(ahead, 1) && ahead < 15*3600 && !hasZone(value) {
		msg += ". If the application writes local times, set timeZone to its time zone"
	}
	return msg
}

// humanSeconds renders a long duration in the largest unit that fits.
func humanSeconds(s float64) string {
	const day = 86400.0
	switch {
	case s >= 2*365.25*day:
		return fmt.Sprintf("%.0f years", s/(365.25*day))
	case s >= 2*day:
		return fmt.Sprintf("%.0f days", s/day)
	default:
		return time.Duration(s * float64(time.Second)).Round(time.Minute).String()
	}
}

// checkAhead compares the watermark of a timestamp cursor with the source's
// clock and records, in st and res, whether it is ahead: a row with a
// far-future cursor ('infinity', a year-2999 typo) moves the watermark past
// every later real row, which would otherwise be missed without a word.
// The table keeps replicating; the warning stays in its state until the
// watermark is back within the tolerance (reset, full refresh).
func (e *Engine) checkAhead(ctx context.Context, p *plan, st *State, res *TableResult) error {
	judge := p.cursorCol.Temporal && st.Watermark != nil
	// With settle, a row ahead of the clock is never read, so the watermark
	// never shows it: the source's last cursor is looked at instead.
	held := p.settle > 0 && p.cursorCol.Temporal && !res.MorePagesAvailable
	if st.CursorAhead == "" && !held && (!judge || res.RowsPulled == 0) {
		return nil // nothing moved, nothing to take back
	}
	prev := st.CursorAhead
	st.CursorAhead = ""
	if held {
		if err := e.checkHeld(ctx, p, st, res); err != nil {
			return err
		}
	}
	if judge && st.CursorAhead == "" {
		ahead, err := e.ahead(ctx, p, st.Watermark.Cursor)
		if err != nil {
			return fmt.Errorf("read the source's clock: %w", err)
		}
		if ahead > 0 {
			value := FormatValue(st.Watermark.Cursor)
			st.CursorAhead = aheadMessage(st.SourceID, p.target.SourceTable, p.cursor, value, ahead)
			res.CursorAheadSeconds = ahead
			res.Warnings = append(res.Warnings, st.CursorAhead)
			e.logger.Warn("cursor is ahead of the source's clock", LogKeySource, st.SourceID, LogKeyTable, p.target.SourceTable,
				"cursor", p.cursor, "value", value, "hint", st.CursorAhead)
		}
	}
	if st.CursorAhead == prev {
		return nil
	}
	return e.replica.Apply(ctx, stateBatch(*st))
}

// checkHeld records a warning when the source's last cursor is ahead of
// its clock: settle holds such a row back until that time comes, so it is
// not in the replica, and with 'infinity' or a typo'd year, never will be.
func (e *Engine) checkHeld(ctx context.Context, p *plan, st *State, res *TableResult) error {
	req := p.request(nil)
	req.Descending, req.Limit, req.Settle = true, 1, 0
	last, err := p.readOne(ctx, req)
	if err != nil {
		return fmt.Errorf("read the last cursor: %w", err)
	}
	if len(last.Rows) == 0 {
		return nil
	}
	cursor := last.Rows[0][p.cursorIdx]
	ahead, err := e.ahead(ctx, p, cursor)
	if err != nil || ahead == 0 {
		return err
	}
	value := FormatValue(cursor)
	how := humanSeconds(ahead) + " ahead of the source's clock"
	if math.IsInf(ahead, 1) {
		how = "past every real time"
	}
	st.CursorAhead = fmt.Sprintf("a row of %s has cursor %s = %s, %s: settle holds it back until then, so it is not in the replica. Fix the row at the source",
		p.target.SourceTable, p.cursor, value, how)
	res.CursorAheadSeconds = ahead
	res.Warnings = append(res.Warnings, st.CursorAhead)
	e.logger.Warn("a row's cursor is ahead of the source's clock", LogKeySource, st.SourceID, LogKeyTable, p.target.SourceTable,
		"cursor", p.cursor, "value", value, "hint", st.CursorAhead)
	return nil
}

// ahead measures a cursor value against the source's clock. Values that are
// clearly in the past by the local clock (further back than any zone and
// skew could explain) cost no query.
func (e *Engine) ahead(ctx context.Context, p *plan, cursor Value) (float64, error) {
	t, _, inf, ok := cursorInstant(cursor, time.UTC)
	switch {
	case !ok:
		return 0, nil
	case inf:
		return math.Inf(1), nil
	}
	if t.Before(e.now().Add(-(15*time.Hour + CursorAheadTolerance + 24*time.Hour))) {
		return 0, nil
	}
	zone := p.zone
	if s, _ := cursor.(string); hasZone(s) {
		zone = "UTC" // an instant: no need to learn the source's default zone
	}
	var now time.Time
	if c, isClock := p.src.(Clock); isClock {
		var err error
		if now, err = c.Now(ctx, zone); err != nil {
			return 0, err
		}
	} else {
		now = e.now()
		if zone != "" {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return 0, err
			}
			now = now.In(loc)
		}
	}
	return cursorAhead(cursor, now), nil
}

// coarseCursorWarning is the warning for a cursor whose values step in
// whole seconds (or coarser) when its lookback was turned off.
func coarseCursorWarning(table, cursor string, c Column) string {
	step := c.Resolution.String()
	if c.Resolution >= 24*time.Hour {
		step = "whole days"
	} else if c.Resolution == time.Second {
		step = "whole seconds"
	}
	return fmt.Sprintf("cursor %s.%s (%s) steps in %s and lookback is 0: a row changed later within the watermark's step, with a lower primary key, is missed; "+
		"remove lookback: 0 (the default re-reads that step) or give the column a finer type", table, cursor, c.SourceType, step)
}
