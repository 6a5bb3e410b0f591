package mysql

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/litepull/litepull"
)

// binlogDecoding sets the options of a binlog syncer that decide how row
// values arrive, for binlogValue: each as close to the text the polling
// path reads as go-mysql gives it.
func binlogDecoding(cfg *replication.BinlogSyncerConfig) {
	// DATETIME, DATE and TIMESTAMP as text: zero dates ('0000-00-00') and
	// invalid ones ('2026-02-31', allowed by some sql_modes) have no
	// time.Time, and text keeps the column's fractional digits.
	cfg.ParseTime = false
	// TIMESTAMP (seconds since the epoch in the binlog) as UTC wall clock,
	// as the polling session (time_zone '+00:00') reads it.
	cfg.TimestampStringLocation = time.UTC
	// DECIMAL as its exact text, not a float or a decimal.Decimal.
	cfg.UseDecimal = false
	// FLOAT and DOUBLE as float32 and float64, as the binary protocol gives
	// them to the polling path.
	cfg.UseFloatWithTrailingZero = false
}

// binlogForm is how a column's values arrive in a row event, as go-mysql
// decodes them under binlogDecoding, and so how they are turned into what
// the polling path reads.
type binlogForm int

const (
	bfUnsupported binlogForm = iota // no exact conversion: binlogInfo.err says why
	bfInt                           // int8 … int64, or int (YEAR): as is
	bfUnsigned                      // the same bits, signed: reinterpreted, width bytes
	bfBit                           // int64, the bits of BIT(n)
	bfFloat                         // float32 (FLOAT) or float64 (DOUBLE)
	bfExact                         // text as polling reads it: DECIMAL, DATE
	bfDateTime                      // "2006-01-02 15:04:05[.f…]": DATETIME
	bfStamp                         // the same for TIMESTAMP, in UTC
	bfTime                          // TIME, without the fraction when it is zero
	bfText                          // bytes in the column's character set
	bfChar                          // CHAR: text; trailing spaces, which polling never reads, removed
	bfBinary                        // BINARY(n): bytes, trailing zero bytes removed
	bfBlob                          // bytes: VARBINARY, BLOB, GEOMETRY
	bfEnum                          // int64, the 1-based member index (0: '')
	bfSet                           // int64, a bitmask of members
	bfUUID                          // MariaDB UUID: 16 bytes, trailing zeros removed
	bfInet6                         // MariaDB INET6: the same
)

// binlogInfo is what turning a column's binlog values into polled values
// needs beyond its kind.
type binlogInfo struct {
	form    binlogForm
	width   int      // bfUnsigned: integer bytes; bfBinary, bfUUID, bfInet6: value bytes
	fsp     int      // bfTime: fractional digits
	charset charset  // bfText, bfChar
	members []string // bfEnum, bfSet: in definition order
	err     error    // bfUnsupported
}

// describeBinlog finds a column's binlogInfo from information_schema:
// DATA_TYPE (lower case), COLUMN_TYPE as the server spells it (ENUM and
// SET members keep their case), CHARACTER_SET_NAME and DATETIME_PRECISION.
func describeBinlog(dataType, columnType, charsetName string, fsp int64) binlogInfo {
	b := binlogInfo{form: bfUnsupported}
	lower := strings.ToLower(columnType)
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		b.form = bfInt
		if strings.Contains(lower, "unsigned") {
			b.form, b.width = bfUnsigned, intWidth[dataType]
		}
	case "year":
		b.form = bfInt
	case "bit":
		b.form = bfBit
	case "float", "double", "real", "double precision":
		b.form = bfFloat
	case "decimal", "numeric", "date":
		b.form = bfExact
	case "datetime":
		b.form = bfDateTime
	case "timestamp":
		b.form = bfStamp
	case "time":
		b.form, b.fsp = bfTime, int(fsp)
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		b = textInfo(dataType, charsetName)
	case "binary":
		b.form, b.width = bfBinary, parenthesized(lower)
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring", "polygon",
		"multipoint", "multilinestring", "multipolygon", "geometrycollection":
		b.form = bfBlob
	case "enum", "set":
		b = enumInfo(dataType, columnType)
	case "uuid":
		b.form, b.width = bfUUID, 16
	case "inet6":
		b.form, b.width = bfInet6, 16
	case "json": // MySQL's; MariaDB's JSON is LONGTEXT
		b.err = fmt.Errorf("a MySQL JSON column: go-mysql renders the binlog's binary JSON in its own layout (key order, spacing, numbers), not as MySQL prints it; poll the table (changes: cursor)")
	default:
		b.err = fmt.Errorf("type %s: its binlog values have no exact conversion yet; poll the table (changes: cursor)", columnType)
	}
	return b
}

// textInfo is the binlogInfo of a text column.
func textInfo(dataType, charsetName string) binlogInfo {
	b := binlogInfo{form: bfText, charset: charsetNamed(charsetName)}
	if dataType == "char" {
		b.form = bfChar
	}
	if b.charset == csUnsupported {
		b.form = bfUnsupported
		b.err = fmt.Errorf("character set %s: binlog values of this character set cannot yet be converted exactly; use utf8mb4 or latin1, or poll the table (changes: cursor)", charsetName)
	}
	return b
}

// enumInfo is the binlogInfo of an ENUM or SET column, its members read
// from COLUMN_TYPE.
func enumInfo(dataType, columnType string) binlogInfo {
	b := binlogInfo{form: bfEnum}
	if dataType == "set" {
		b.form = bfSet
	}
	var err error
	if b.members, err = enumMembers(columnType); err != nil {
		return binlogInfo{err: fmt.Errorf("read the members of %s: %w", columnType, err)}
	}
	for _, m := range b.members {
		if strings.Contains(m, "?") {
			// information_schema (and SHOW CREATE TABLE) is utf8mb3: an
			// emoji in a member reads "?".
			return binlogInfo{err: fmt.Errorf("%s member %q: information_schema shows characters beyond utf8mb3 (emoji) as '?', so the binlog's member numbers cannot be named exactly; poll the table (changes: cursor)", dataType, m)}
		}
	}
	return b
}

// intWidth is the size in bytes of each integer type.
var intWidth = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 8}

// binlogSupported says why a column's binlog values cannot be converted
// exactly, if they cannot: a stream refuses such a table up front.
func (c column) binlogSupported() error {
	switch {
	case c.binlog.form != bfUnsupported:
		return nil
	case c.binlog.err != nil:
		return c.binlog.err
	}
	return errors.New("the column was not described for the binlog (describeBinlog)")
}

// binlogValue turns a value of a decoded row event into exactly the value
// the polling path stores for it.
func (c column) binlogValue(v any) (litepull.Value, error) {
	if v == nil {
		return nil, nil
	}
	b := c.binlog
	switch b.form {
	case bfUnsupported:
		return nil, c.binlogSupported()
	case bfInt, bfUnsigned, bfBit, bfEnum, bfSet:
		n, ok := binlogInteger(v)
		if !ok {
			break
		}
		return b.integer(n)
	case bfFloat:
		switch v.(type) {
		case float32, float64:
			return c.convert(v)
		}
	default:
		switch v := v.(type) {
		case string:
			return b.fromBytes([]byte(v))
		case []byte:
			return b.fromBytes(v)
		}
	}
	return nil, fmt.Errorf("unexpected binlog value %T for a %s column", v, c.columnType)
}

// binlogInteger widens the integer types go-mysql decodes into.
func binlogInteger(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

// integer converts an integer form: unsigned integers and BIT as polling's
// uint64 (decimal text above 2^63-1), ENUM and SET as their members.
func (b binlogInfo) integer(n int64) (litepull.Value, error) {
	switch b.form {
	case bfUnsigned:
		u := uint64(n)
		if b.width < 8 {
			u &= 1<<(8*b.width) - 1
		}
		return unsignedValue(u), nil
	case bfBit:
		return unsignedValue(uint64(n)), nil
	case bfEnum:
		switch {
		case n == 0: // the error value of an invalid insert
			return "", nil
		case n < 0 || n > int64(len(b.members)):
			return nil, fmt.Errorf("ENUM index %d of %d members: the table changed since it was described", n, len(b.members))
		}
		return b.members[n-1], nil
	case bfSet:
		return b.setMembers(uint64(n))
	}
	return n, nil
}

// unsignedValue is an unsigned integer as the polling path stores it.
func unsignedValue(u uint64) litepull.Value {
	if u > math.MaxInt64 {
		return fmt.Sprint(u)
	}
	return int64(u)
}

// setMembers is a SET's bitmask as MySQL prints it: members in definition
// order, joined by commas.
func (b binlogInfo) setMembers(mask uint64) (litepull.Value, error) {
	var sb strings.Builder
	for i := 0; mask != 0; i++ {
		if mask&1 != 0 {
			if i >= len(b.members) {
				return nil, fmt.Errorf("SET member %d of %d: the table changed since it was described", i+1, len(b.members))
			}
			if sb.Len() > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(b.members[i])
		}
		mask >>= 1
	}
	return sb.String(), nil
}

// fromBytes converts the forms that arrive as a string or []byte (go-mysql
// gives VARCHAR and CHAR as string, the BLOB and TEXT types as []byte).
// Every result is a copy: go-mysql's values share the event's buffer.
func (b binlogInfo) fromBytes(s []byte) (litepull.Value, error) {
	switch b.form {
	case bfExact:
		return string(s), nil
	case bfDateTime, bfStamp:
		return string(appendISODateTime(make([]byte, 0, 27), []byte(s), b.form == bfStamp)), nil
	case bfTime:
		return timeText(string(s), b.fsp), nil
	case bfText:
		return b.charset.text(s)
	case bfChar:
		return b.charset.text(bytes.TrimRight(s, " "))
	case bfBinary:
		return padded(s, b.width), nil
	case bfBlob:
		return bytes.Clone(s), nil
	case bfUUID:
		return uuidText(padded(s, b.width)), nil
	case bfInet6:
		return inet6Text(padded(s, b.width)), nil
	}
	return nil, fmt.Errorf("unexpected binlog text for binlog form %d", b.form)
}
