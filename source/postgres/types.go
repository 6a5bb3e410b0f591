package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/arena"
)

// Postgres type OIDs the source decodes natively.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidTimeTZ      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

const (
	textFormat   int16 = 0
	binaryFormat int16 = 1
)

// decoder turns one raw column value into a replica value. Strings are
// carved from the arena.
type decoder func(raw []byte, a *arena.Arena) (litepull.Value, error)

// codec is how one column is selected, transferred and decoded.
type codec struct {
	affinity litepull.Affinity
	temporal bool
	format   int16
	// cast wraps the quoted column in the select list ("%s::text"); empty
	// selects the column as it is.
	cast   string
	decode decoder
	// fromText decodes the type's text output, as logical replication
	// sends it (see textValue), into the value decode gives.
	fromText decoder
	// key renders the column's part of a key's canonical text (keyFormat);
	// oid is the column's type, or its domain's base type.
	key string
	oid uint32
}

// pgEpoch is 2000-01-01, the zero of Postgres' binary dates and times.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// pgEpochUnix is pgEpoch in Unix seconds.
const pgEpochUnix = 946684800

// codecFor picks the codec of a column from its type.
func codecFor(t pgType) codec {
	switch t.oid {
	case oidInt2:
		return codec{affinity: litepull.AffInteger, format: binaryFormat, fromText: textInt, decode: fixed(2, func(b []byte) litepull.Value { return int64(int16(binary.BigEndian.Uint16(b))) })}
	case oidInt4:
		return codec{affinity: litepull.AffInteger, format: binaryFormat, fromText: textInt, decode: fixed(4, func(b []byte) litepull.Value { return int64(int32(binary.BigEndian.Uint32(b))) })}
	case oidOID:
		return codec{affinity: litepull.AffInteger, format: binaryFormat, fromText: textOID, decode: fixed(4, func(b []byte) litepull.Value { return int64(binary.BigEndian.Uint32(b)) })}
	case oidInt8:
		return codec{affinity: litepull.AffInteger, format: binaryFormat, fromText: textInt, decode: fixed(8, func(b []byte) litepull.Value { return int64(binary.BigEndian.Uint64(b)) })}
	case oidFloat4:
		return codec{affinity: litepull.AffReal, format: binaryFormat, fromText: textFloat(32), decode: fixed(4, func(b []byte) litepull.Value {
			return litepull.FloatValue(float64(math.Float32frombits(binary.BigEndian.Uint32(b))))
		})}
	case oidFloat8:
		return codec{affinity: litepull.AffReal, format: binaryFormat, fromText: textFloat(64), decode: fixed(8, func(b []byte) litepull.Value {
			return litepull.FloatValue(math.Float64frombits(binary.BigEndian.Uint64(b)))
		})}
	case oidBool:
		return codec{affinity: litepull.AffInteger, format: binaryFormat, fromText: textBool, decode: fixed(1, func(b []byte) litepull.Value {
			if b[0] != 0 {
				return int64(1)
			}
			return int64(0)
		})}
	case oidBytea:
		return codec{affinity: litepull.AffBlob, format: binaryFormat, fromText: textBytea, decode: func(b []byte, _ *arena.Arena) (litepull.Value, error) {
			return append(make([]byte, 0, len(b)), b...), nil
		}}
	case oidTimestampTZ:
		return codec{affinity: litepull.AffText, temporal: true, format: binaryFormat, decode: fixedA(8, timestampDecoder(true)), fromText: textTimestamp(true)}
	case oidTimestamp:
		return codec{affinity: litepull.AffText, temporal: true, format: binaryFormat, decode: fixedA(8, timestampDecoder(false)), fromText: textTimestamp(false)}
	case oidDate:
		return codec{affinity: litepull.AffText, temporal: true, format: binaryFormat, decode: fixed(4, decodeDate), fromText: textDate}
	case oidTime:
		return codec{affinity: litepull.AffText, format: binaryFormat, decode: fixed(8, decodeTime), fromText: textTime}
	case oidUUID:
		return codec{affinity: litepull.AffText, format: binaryFormat, decode: fixed(16, decodeUUID), fromText: textUUID}
	case oidText, oidVarchar, oidBPChar, oidName, oidChar, oidNumeric, oidJSON, oidJSONB, oidTimeTZ:
		// Text format is exact for these: numeric keeps every digit, jsonb
		// comes back as JSON text, timetz with its offset.
		return codec{affinity: litepull.AffText, format: textFormat, decode: decodeText, fromText: textString}
	}
	if t.category == "A" {
		// Arrays become JSON text, the one array format every reader has.
		return codec{affinity: litepull.AffText, format: textFormat, cast: "to_json(%s)::text", decode: decodeText, fromText: textArray(t)}
	}
	// Anything else (interval, inet, enums, ranges, money, ...) keeps
	// Postgres' own text form, which Postgres parses back exactly.
	return codec{affinity: litepull.AffText, format: textFormat, cast: "%s::text", decode: decodeText, fromText: textOther(t)}
}

// fixed checks the width of a binary value before decoding it.
func fixed(n int, f func([]byte) litepull.Value) decoder {
	return fixedA(n, func(b []byte, _ *arena.Arena) litepull.Value { return f(b) })
}

func fixedA(n int, f func([]byte, *arena.Arena) litepull.Value) decoder {
	return func(b []byte, a *arena.Arena) (litepull.Value, error) {
		if len(b) != n {
			return nil, fmt.Errorf("binary value of %d bytes, want %d", len(b), n)
		}
		return f(b, a), nil
	}
}

func decodeText(b []byte, a *arena.Arena) (litepull.Value, error) { return a.String(b), nil }

// timestampDecoder decodes microseconds since 2000-01-01 into fixed-width
// ISO-8601 text, with a trailing Z for timestamptz.
func timestampDecoder(utc bool) func([]byte, *arena.Arena) litepull.Value {
	return func(b []byte, a *arena.Arena) litepull.Value {
		us := int64(binary.BigEndian.Uint64(b))
		switch us {
		case math.MaxInt64:
			return "infinity"
		case math.MinInt64:
			return "-infinity"
		}
		return a.Format(32, func(dst []byte) []byte { return appendTimestamp(dst, us, utc) })
	}
}

// appendTimestamp formats Postgres microseconds as
// 2006-01-02T15:04:05.000000[Z]. It is a hot path on backfills, so the
// common years 0001-9999 are formatted by hand; others go through time.
func appendTimestamp(dst []byte, us int64, utc bool) []byte {
	days := us / 86400e6
	rem := us % 86400e6
	if rem < 0 {
		days--
		rem += 86400e6
	}
	y, m, d := civil(days + 10957) // days since 1970-01-01
	if y < 1 || y > 9999 {
		layout := litepull.LayoutTimestamp
		if utc {
			layout = litepull.LayoutTimestampTZ
		}
		return time.Unix(pgEpochUnix+us/1e6, us%1e6*1e3).UTC().AppendFormat(dst, layout)
	}
	dst = appendDigits(dst, int64(y), 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int64(m), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, int64(d), 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, rem/3600e6, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem/60e6%60, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem/1e6%60, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, rem%1e6, 6)
	if utc {
		dst = append(dst, 'Z')
	}
	return dst
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil, inverted).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendDigits appends v zero-padded to width digits.
func appendDigits(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for ; v > 0 || i > len(buf)-width; v /= 10 {
		i--
		buf[i] = byte('0' + v%10)
	}
	return append(dst, buf[i:]...)
}

func decodeDate(b []byte) litepull.Value { return dateValue(int32(binary.BigEndian.Uint32(b))) }

// dateValue formats days since 2000-01-01.
func dateValue(days int32) litepull.Value {
	switch days {
	case math.MaxInt32:
		return "infinity"
	case math.MinInt32:
		return "-infinity"
	}
	return pgEpoch.AddDate(0, 0, int(days)).Format(litepull.LayoutDate)
}

func decodeTime(b []byte) litepull.Value { return timeValue(int64(binary.BigEndian.Uint64(b))) }

// timeValue formats microseconds since midnight.
func timeValue(us int64) litepull.Value {
	h, us := us/3600e6, us%3600e6
	m, us := us/60e6, us%60e6
	s, us := us/1e6, us%1e6
	return fmt.Sprintf("%02d:%02d:%02d.%06d", h, m, s, us)
}

func decodeUUID(b []byte) litepull.Value {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// encodeParam renders a replica value as Postgres text input. Parameters are
// sent as text with an unspecified type, so Postgres parses each in the type
// of the column it is compared with: a timestamp watermark stored as
// ISO-8601 text is compared as a timestamp, not as text.
func encodeParam(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return strconv.AppendInt(nil, v, 10), nil
	case int:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case float64:
		switch {
		case math.IsInf(v, 1):
			return []byte("Infinity"), nil
		case math.IsInf(v, -1):
			return []byte("-Infinity"), nil
		}
		return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
	case string:
		return []byte(v), nil
	case []byte:
		return append([]byte(`\x`), hex.EncodeToString(v)...), nil
	default:
		return nil, fmt.Errorf("cannot bind a %T", v)
	}
}

// resolution is the step of a temporal column's values when coarser than a
// microsecond: timestamp(p) with p < 6 (typ as format_type spells it), and
// dates.
func resolution(typeOID uint32, typ string) time.Duration {
	switch typeOID {
	case oidDate:
		return 24 * time.Hour
	case oidTimestamp, oidTimestampTZ:
		var p int
		if _, err := fmt.Sscanf(typ, "timestamp(%d)", &p); err == nil && p >= 0 && p < 6 {
			d := time.Microsecond
			for ; p < 6; p++ {
				d *= 10
			}
			return d
		}
	}
	return 0
}
