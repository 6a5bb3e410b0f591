package mysql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/arena"
)

// kind is how a MySQL column's values are converted into the replica.
type kind int

const (
	kInt      kind = iota // signed and small unsigned integers, YEAR
	kUint64               // BIGINT UNSIGNED: above 2^63-1 kept as decimal text
	kBit                  // BIT(n): big-endian bytes to an integer
	kFloat                // FLOAT, DOUBLE
	kDecimal              // DECIMAL: exact text
	kText                 // CHAR, VARCHAR, TEXT, ENUM, SET, JSON, TIME, DATE
	kBlob                 // BINARY, VARBINARY, BLOB, GEOMETRY
	kDateTime             // DATETIME: ISO-8601, microseconds, no zone
	kStamp                // TIMESTAMP: ISO-8601, microseconds, UTC with Z
)

// column is a described MySQL column.
type column struct {
	kind       kind
	affinity   litepull.Affinity
	temporal   bool
	columnType string // COLUMN_TYPE: "bigint(20) unsigned", "decimal(65,30)"
	precision  int64  // DECIMAL precision and scale, for casts
	scale      int64
	binlog     binlogInfo // how its values arrive in the binlog
}

// classify maps information_schema's DATA_TYPE and COLUMN_TYPE onto a kind
// and a replica affinity.
func classify(dataType, columnType string, precision, scale int64) column {
	c := column{columnType: columnType, precision: precision, scale: scale}
	unsigned := strings.Contains(columnType, "unsigned")
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "year":
		c.kind, c.affinity = kInt, litepull.AffInteger
	case "bigint":
		c.kind, c.affinity = kInt, litepull.AffInteger
		if unsigned {
			// No SQLite affinity: values up to 2^63-1 stay integers, larger
			// ones are stored as their decimal text instead of being
			// rounded into a REAL.
			c.kind, c.affinity = kUint64, litepull.AffNone
		}
	case "bit":
		c.kind, c.affinity = kBit, litepull.AffInteger
		if precision == 64 {
			c.affinity = litepull.AffNone
		}
	case "float", "double", "real", "double precision":
		c.kind, c.affinity = kFloat, litepull.AffReal
	case "decimal", "numeric":
		c.kind, c.affinity = kDecimal, litepull.AffText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring", "polygon",
		"multipoint", "multilinestring", "multipolygon", "geometrycollection":
		c.kind, c.affinity = kBlob, litepull.AffBlob
	case "datetime":
		c.kind, c.affinity, c.temporal = kDateTime, litepull.AffText, true
	case "timestamp":
		c.kind, c.affinity, c.temporal = kStamp, litepull.AffText, true
	case "date":
		c.kind, c.affinity, c.temporal = kText, litepull.AffText, true
	default: // char, varchar, text types, enum, set, json, time, uuid, inet6 ...
		c.kind, c.affinity = kText, litepull.AffText
	}
	return c
}

// viaBytes reports a column whose values the driver hands over as bytes:
// these are scanned as sql.RawBytes and converted without a copy.
func (c column) viaBytes() bool {
	switch c.kind {
	case kDecimal, kText, kBlob, kDateTime, kStamp:
		return true
	}
	return false
}

// convertBytes converts a RawBytes value (nil is NULL); strings are carved
// from a.
func (c column) convertBytes(b []byte, a *arena.Arena) (litepull.Value, error) {
	switch {
	case b == nil:
		return nil, nil
	case c.kind == kBlob:
		return append(make([]byte, 0, len(b)), b...), nil
	case c.kind == kDateTime || c.kind == kStamp:
		return a.Format(27, func(dst []byte) []byte { return appendISODateTime(dst, b, c.kind == kStamp) }), nil
	}
	return a.String(b), nil
}

// convert turns a driver value into a replica value.
func (c column) convert(v any) (litepull.Value, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return v, nil
	case uint64:
		if v > math.MaxInt64 {
			return strconv.FormatUint(v, 10), nil
		}
		return int64(v), nil
	case float32:
		return float64(v), nil // exact: every float32 is a float64
	case float64:
		return v, nil
	case []byte:
		switch c.kind {
		case kBlob:
			return v, nil
		case kBit:
			if len(v) > 8 {
				return nil, fmt.Errorf("BIT value of %d bytes", len(v))
			}
			var n uint64
			for _, b := range v {
				n = n<<8 | uint64(b)
			}
			if n > math.MaxInt64 {
				return strconv.FormatUint(n, 10), nil
			}
			return int64(n), nil
		case kInt:
			return strconv.ParseInt(string(v), 10, 64)
		case kUint64:
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return nil, err
			}
			if n > math.MaxInt64 {
				return string(v), nil
			}
			return int64(n), nil
		case kFloat:
			return strconv.ParseFloat(string(v), 64)
		case kDateTime, kStamp:
			return string(appendISODateTime(nil, v, c.kind == kStamp)), nil
		default:
			return string(v), nil
		}
	case string:
		return v, nil
	default:
		return nil, fmt.Errorf("unexpected driver value %T", v)
	}
}

// appendISODateTime turns "2006-01-02 15:04:05[.ffffff]" into the
// replica's fixed layout, 2006-01-02T15:04:05.000000 (plus Z for TIMESTAMP,
// read in a UTC session). Zero dates keep their zeros:
// 0000-00-00T00:00:00.000000.
func appendISODateTime(dst, b []byte, utc bool) []byte {
	start := len(dst)
	dst = append(dst, b...)
	if len(b) >= 11 && b[10] == ' ' {
		dst[start+10] = 'T'
	}
	if len(b) == 19 {
		dst = append(dst, '.')
	}
	for len(dst)-start < 26 {
		dst = append(dst, '0')
	}
	if utc {
		dst = append(dst, 'Z')
	}
	return dst
}

// bindValue turns a replica value (a watermark) back into a parameter of
// the column's type.
func (c column) bindValue(v any) (any, error) {
	if b, ok := v.([]byte); ok && b == nil {
		// The replica reads an empty BLOB back as a nil slice, which the
		// driver would send as NULL: "k = NULL" matches nothing.
		return []byte{}, nil
	}
	switch c.kind {
	case kInt:
		if s, ok := v.(string); ok {
			return strconv.ParseInt(s, 10, 64)
		}
	case kUint64, kBit:
		if s, ok := v.(string); ok {
			return strconv.ParseUint(s, 10, 64)
		}
	case kDateTime, kStamp:
		if s, ok := v.(string); ok {
			// MySQL reads 2006-01-02T15:04:05.000000 as a datetime; the Z
			// is ours (the session is UTC) and MariaDB does not take it.
			return strings.TrimSuffix(s, "Z"), nil
		}
	}
	return v, nil
}

// resolution is the step of a temporal column's values when coarser than a
// microsecond: DATETIME and TIMESTAMP with fewer than 6 fractional digits
// (fsp, information_schema's DATETIME_PRECISION), and DATE.
func resolution(dataType string, fsp int64) time.Duration {
	switch dataType {
	case "date":
		return 24 * time.Hour
	case "datetime", "timestamp":
		d := time.Microsecond
		for p := fsp; p < 6; p++ {
			d *= 10
		}
		if d > time.Microsecond {
			return d
		}
	}
	return 0
}
