package litepull

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// EncodeValues encodes values as a JSON array of tagged strings so that they
// decode to the same Go types: "i:42" (int64), "f:1.5" (float64), "s:text"
// (string), "b:base64" (bytes), null. The state table keeps watermarks this
// way, so the next query binds the cursor with the type it was read with.
func EncodeValues(vals []Value) (string, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = nil
		case int64:
			out[i] = "i:" + strconv.FormatInt(v, 10)
		case float64:
			out[i] = "f:" + strconv.FormatFloat(v, 'g', -1, 64)
		case string:
			out[i] = "s:" + v
		case []byte:
			out[i] = "b:" + base64.StdEncoding.EncodeToString(v)
		default:
			return "", fmt.Errorf("encode value: unsupported type %T", v)
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// DecodeValues reverses EncodeValues.
func DecodeValues(s string) ([]Value, error) {
	var raw []*string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("decode values: %w", err)
	}
	out := make([]Value, len(raw))
	for i, r := range raw {
		if r == nil {
			continue
		}
		tag, body, ok := strings.Cut(*r, ":")
		if !ok {
			return nil, fmt.Errorf("decode values: element %d: missing type tag", i)
		}
		var err error
		switch tag {
		case "i":
			out[i], err = strconv.ParseInt(body, 10, 64)
		case "f":
			var f float64
			f, err = strconv.ParseFloat(body, 64)
			if err == nil && math.IsNaN(f) {
				err = fmt.Errorf("NaN is not a position") // NaN floats travel as the text "NaN"
			}
			out[i] = f
		case "s":
			out[i] = body
		case "b":
			out[i], err = base64.StdEncoding.DecodeString(body)
		default:
			err = fmt.Errorf("unknown type tag %q", tag)
		}
		if err != nil {
			return nil, fmt.Errorf("decode values: element %d: %w", i, err)
		}
	}
	return out, nil
}

// FormatValue renders a value for people: the state table's cursor_value
// column, CLI output and JSON summaries.
func FormatValue(v Value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	case []byte:
		return "x'" + fmt.Sprintf("%x", v) + "'"
	default:
		return fmt.Sprint(v)
	}
}

// Time layouts used for temporal values in the replica: ISO-8601, fixed
// width, microsecond precision. Timestamps with a time zone are stored in UTC
// with a trailing Z; timestamps without one are stored as they are, without Z.
const (
	LayoutTimestampTZ = "2006-01-02T15:04:05.000000Z"
	LayoutTimestamp   = "2006-01-02T15:04:05.000000"
	LayoutDate        = "2006-01-02"
	LayoutTime        = "15:04:05.000000"
)

// FloatValue maps a float onto the replica's domain. SQLite stores NaN as
// NULL, so NaN is kept as the text "NaN" instead (a REAL column keeps text
// that does not look like a number as text); infinities are real values.
func FloatValue(f float64) Value {
	if math.IsNaN(f) {
		return "NaN"
	}
	return f
}

// subtractLookback moves a cursor value back by a lookback window: an
// integer amount for integer cursors, a duration for ISO-8601 text cursors.
func subtractLookback(cursor Value, lb Lookback) (Value, error) {
	switch c := cursor.(type) {
	case int64:
		if lb.Duration != 0 {
			return nil, fmt.Errorf("lookback %s is a duration but the cursor is an integer; give a number of cursor units", lb)
		}
		if c < math.MinInt64+lb.Amount {
			return int64(math.MinInt64), nil
		}
		return c - lb.Amount, nil
	case float64:
		return c - float64(lb.Amount), nil
	case string:
		if lb.Duration == 0 {
			return nil, fmt.Errorf("lookback %s is a number but the cursor is text; give a duration such as 5m", lb)
		}
		if c == "infinity" || c == "-infinity" || strings.HasPrefix(c, "0000-00-00") {
			// Postgres' infinities and MySQL's zero dates are not times:
			// nothing lies a duration behind them but themselves.
			return c, nil
		}
		for _, layout := range []string{LayoutTimestampTZ, LayoutTimestamp, time.RFC3339Nano, "2006-01-02 15:04:05.999999999", LayoutDate} {
			t, err := time.Parse(layout, c)
			if err == nil {
				return t.Add(-lb.Duration).Format(layout), nil
			}
		}
		return nil, fmt.Errorf("lookback: cursor value %q is not an ISO-8601 timestamp", c)
	default:
		return nil, fmt.Errorf("lookback: cursor of type %T cannot move back", cursor)
	}
}
