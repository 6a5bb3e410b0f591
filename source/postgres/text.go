package postgres

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/arena"
)

// Logical replication (pgoutput, text tuples) sends each value as its
// type's text output, written under the replication session's settings.
// The text decoders below read it as written under textSessionParams, and
// give exactly the value a page holds for it: the same Go type and bytes.

// textSessionParams are the session settings the text decoders expect.
var textSessionParams = map[string]string{
	"DateStyle":          "ISO",
	"TimeZone":           "UTC",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"extra_float_digits": "3",
}

// More type OIDs, for the text decoders.
const (
	oidInt2Vector = 22
	oidOIDVector  = 30
	oidCIDR       = 650
	oidInet       = 869
	// firstNormalOID is the first OID of a type not built into Postgres.
	firstNormalOID = 16384
)

// pgType is what the catalog says of a column's type.
type pgType struct {
	oid      uint32 // the type, or its domain's base type
	category string // pg_type.typcategory
	// textCast: a function casts the type to text, so col::text may differ
	// from the type's output (inet's is network_show: 10.0.0.1/32).
	textCast bool
	elem     elemType // an array's element
}

// elemType is an array's element type, as to_json sees it.
type elemType struct {
	oid      uint32 // the base type, through every domain
	category string // pg_type.typcategory
	delim    byte   // between elements in the array's text (typdelim)
	jsonCast bool   // a function casts it to json
}

// errNoText says a column's text output does not tell the value a page
// holds: such a table is replicated by polling.
var errNoText = errors.New("no text decoding")

// textValue decodes a column's text output, as logical replication sends
// it, into the value a page holds for the same value. raw is not kept.
func (c codec) textValue(raw []byte) (litepull.Value, error) {
	if c.fromText == nil {
		return nil, fmt.Errorf("%w: a codec without a text decoder", errNoText)
	}
	return c.fromText(raw, nil)
}

// untextable is the text decoder of a type whose text output does not tell
// the value a page holds.
func untextable(why string) decoder {
	err := fmt.Errorf("%w: %s; replicate the table by polling", errNoText, why)
	return func([]byte, *arena.Arena) (litepull.Value, error) { return nil, err }
}

func textString(raw []byte, _ *arena.Arena) (litepull.Value, error) { return string(raw), nil }

func textInt(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func textOID(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	n, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return nil, err
	}
	return int64(n), nil
}

// textFloat parses a float of bits bits: the shortest text that reads back
// exactly (extra_float_digits > 0), so a float4 parsed as float32 and then
// widened is the float32 a page widens.
func textFloat(bits int) decoder {
	return func(raw []byte, _ *arena.Arena) (litepull.Value, error) {
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil {
			return nil, err
		}
		return litepull.FloatValue(f), nil
	}
}

func textBool(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	switch string(raw) {
	case "t":
		return int64(1), nil
	case "f":
		return int64(0), nil
	}
	return nil, fmt.Errorf("boolean text %q, want t or f", raw)
}

func textBytea(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	h, ok := bytes.CutPrefix(raw, []byte(`\x`))
	if !ok {
		return nil, errors.New(`bytea text without \x (the session's bytea_output must be hex)`)
	}
	out := make([]byte, hex.DecodedLen(len(h)))
	if _, err := hex.Decode(out, h); err != nil {
		return nil, fmt.Errorf("bytea text: %w", err)
	}
	return out, nil
}

// textTimestamp reads DateStyle ISO text into the page's ISO-8601 text.
func textTimestamp(utc bool) decoder {
	return func(raw []byte, _ *arena.Arena) (litepull.Value, error) {
		switch string(raw) {
		case "infinity", "-infinity":
			return string(raw), nil
		}
		st, err := parseStamp(raw, true, utc)
		if err != nil {
			return nil, err
		}
		return string(appendTimestamp(nil, st.micros(), utc)), nil
	}
}

func textDate(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	switch string(raw) {
	case "infinity", "-infinity":
		return string(raw), nil
	}
	st, err := parseStamp(raw, false, false)
	if err != nil {
		return nil, err
	}
	return dateValue(int32(st.days())), nil
}

func textTime(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	p := scanner{s: raw}
	us := p.clock()
	if !p.done() || us > 86400e6 {
		return nil, fmt.Errorf("time text %q", raw)
	}
	return timeValue(us), nil
}

func textUUID(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	var b [16]byte
	if len(raw) != 36 || raw[8] != '-' || raw[13] != '-' || raw[18] != '-' || raw[23] != '-' {
		return nil, fmt.Errorf("uuid text %q", raw)
	}
	h := make([]byte, 0, 32)
	h = append(append(append(append(append(h, raw[:8]...), raw[9:13]...), raw[14:18]...), raw[19:23]...), raw[24:]...)
	if _, err := hex.Decode(b[:], h); err != nil {
		return nil, fmt.Errorf("uuid text %q: %w", raw, err)
	}
	return decodeUUID(b[:]), nil
}

// textOther is the text decoder of a type a page reads as col::text: its
// output, unless a function casts it to text.
func textOther(t pgType) decoder {
	switch {
	case t.oid == oidInet || t.oid == oidCIDR:
		return textInet
	case t.textCast:
		return untextable(fmt.Sprintf("type %d has a cast to text of its own, which its text output does not follow", t.oid))
	}
	return textString
}

// textInet adds the mask that inet's output leaves out when it is the
// whole address and its cast to text (network_show) writes.
func textInet(raw []byte, _ *arena.Arena) (litepull.Value, error) {
	switch {
	case bytes.IndexByte(raw, '/') >= 0:
		return string(raw), nil
	case bytes.IndexByte(raw, ':') >= 0:
		return string(raw) + "/128", nil
	}
	return string(raw) + "/32", nil
}

// stamp is a date, or a date and time, as DateStyle ISO writes it:
// 2024-01-02 03:04:05.123456+00, 0044-03-15 BC.
type stamp struct {
	year, month, day int64 // year as written: BC years count back from 1
	bc               bool
	us               int64 // since midnight
	zone             int64 // offset east of UTC in seconds
}

// Postgres' last years of timestamps and of dates.
const (
	maxTimestampYear = 294276
	maxDateYear      = 5874897
)

// parseStamp reads a date, with a time of day when clock, and an offset
// when zone.
func parseStamp(raw []byte, clock, zone bool) (stamp, error) {
	p := scanner{s: raw}
	var st stamp
	st.year = p.num(4, 7)
	p.need('-')
	st.month = p.num(2, 2)
	p.need('-')
	st.day = p.num(2, 2)
	if clock {
		p.need(' ')
		st.us = p.clock()
	}
	if zone {
		st.zone = p.zone()
	}
	if bytes.Equal(p.s[p.i:], []byte(" BC")) {
		st.bc = true
		p.i = len(p.s)
	}
	last := int64(maxDateYear)
	if clock {
		last = maxTimestampYear
	}
	if clock && st.bc && st.year > 4714 { // timestamps start in 4713 BC
		p.bad = true
	}
	if !p.done() || st.year < 1 || st.year > last || st.us >= 86400e6 || !st.valid() {
		return stamp{}, fmt.Errorf("date/time text %q (the session's DateStyle must be ISO)", raw)
	}
	return st, nil
}

// astroYear is the year counting 1 BC as 0.
func (st stamp) astroYear() int64 {
	if st.bc {
		return 1 - st.year
	}
	return st.year
}

// days is days since 2000-01-01.
func (st stamp) days() int64 { return daysFromCivil(st.astroYear(), st.month, st.day) - 10957 }

// micros is microseconds since 2000-01-01 00:00 UTC.
func (st stamp) micros() int64 { return st.days()*86400e6 + st.us - st.zone*1e6 }

// valid reports a date that exists.
func (st stamp) valid() bool {
	y, m, d := civil(st.days() + 10957)
	return y == st.astroYear() && m == st.month && d == st.day
}

// appendXSD writes the stamp as to_json does (XSD style): T between date
// and time, trailing fractional zeros dropped, an offset with its minutes.
func (st stamp) appendXSD(dst []byte, zone bool) []byte {
	dst = appendDigits(dst, st.year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, st.month, 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, st.day, 2)
	dst = append(dst, 'T')
	dst = appendClock(dst, st.us/1e6)
	if f := st.us % 1e6; f != 0 {
		dst = appendDigits(append(dst, '.'), f, 6)
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
	}
	if zone {
		z, sign := st.zone, byte('+')
		if z < 0 {
			z, sign = -z, '-'
		}
		dst = append(dst, sign)
		dst = appendDigits(dst, z/3600, 2)
		dst = append(dst, ':')
		dst = appendDigits(dst, z/60%60, 2)
		if z%60 != 0 {
			dst = append(dst, ':')
			dst = appendDigits(dst, z%60, 2)
		}
	}
	if st.bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendClock writes seconds since midnight as HH:MM:SS.
func appendClock(dst []byte, s int64) []byte {
	dst = appendDigits(dst, s/3600, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s/60%60, 2)
	dst = append(dst, ':')
	return appendDigits(dst, s%60, 2)
}

// daysFromCivil is days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's days_from_civil), the inverse of civil.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// scanner reads date and time text; bad marks text that is not.
type scanner struct {
	s   []byte
	i   int
	bad bool
}

// done reports the whole text read, and well formed.
func (p *scanner) done() bool { return !p.bad && p.i == len(p.s) }

// lit consumes c if it is next.
func (p *scanner) lit(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// need consumes c, or marks the text bad.
func (p *scanner) need(c byte) {
	if !p.lit(c) {
		p.bad = true
	}
}

// num reads from min to max digits.
func (p *scanner) num(min, max int) int64 {
	var v int64
	n := 0
	for ; n < max && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9'; n++ {
		v = v*10 + int64(p.s[p.i]-'0')
		p.i++
	}
	if n < min {
		p.bad = true
	}
	return v
}

// clock reads HH:MM:SS[.ffffff] as microseconds since midnight.
func (p *scanner) clock() int64 {
	h := p.num(2, 2)
	p.need(':')
	m := p.num(2, 2)
	p.need(':')
	s := p.num(2, 2)
	if m > 59 || s > 59 {
		p.bad = true
	}
	us := ((h*60+m)*60 + s) * 1e6
	if p.lit('.') {
		start := p.i
		f := p.num(1, 6)
		for n := p.i - start; n < 6; n++ {
			f *= 10
		}
		us += f
	}
	return us
}

// zone reads an offset, +HH[:MM[:SS]], as seconds east of UTC.
func (p *scanner) zone() int64 {
	sign := int64(1)
	switch {
	case p.lit('+'):
	case p.lit('-'):
		sign = -1
	default:
		p.bad = true
		return 0
	}
	h := p.num(2, 2)
	var m, s int64
	if p.lit(':') {
		m = p.num(2, 2)
		if p.lit(':') {
			s = p.num(2, 2)
		}
	}
	return sign * (h*3600 + m*60 + s)
}
