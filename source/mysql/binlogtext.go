package mysql

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/litepull/litepull"
)

// charset is the character set of a text column's binlog bytes: the
// polling path reads text converted to the connection's utf8mb4, the
// binlog holds it as stored.
type charset int

const (
	csUnsupported charset = iota // no exact conversion to UTF-8 here
	csUTF8                       // utf8mb4, utf8mb3, ascii: already UTF-8
	csLatin1                     // MySQL's latin1: cp1252 with its five holes kept
)

// charsetNamed maps information_schema's CHARACTER_SET_NAME.
func charsetNamed(name string) charset {
	switch strings.ToLower(name) {
	case "utf8mb4", "utf8mb3", "utf8", "ascii":
		return csUTF8
	case "latin1":
		return csLatin1
	}
	return csUnsupported
}

// text decodes a text value into UTF-8.
func (cs charset) text(b []byte) (litepull.Value, error) {
	switch cs {
	case csUTF8:
		return string(b), nil
	case csLatin1:
		out := make([]byte, 0, len(b)+len(b)/4)
		for _, c := range b {
			out = utf8.AppendRune(out, latin1Rune(c))
		}
		return string(out), nil
	}
	return nil, errors.New("text in an unsupported character set")
}

// latin1High is what MySQL's latin1 maps 0x80…0x9f to: Windows-1252, whose
// five undefined bytes (0x81, 0x8d, 0x8f, 0x90, 0x9d) become the C1
// controls of the same number.
var latin1High = [32]rune{
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
}

func latin1Rune(c byte) rune {
	if c >= 0x80 && c < 0xa0 {
		return latin1High[c-0x80]
	}
	return rune(c)
}

// timeText gives a TIME value its column's fractional digits: go-mysql
// leaves out a zero fraction ("01:00:00" of a TIME(3)), the polling path
// reads "01:00:00.000".
func timeText(s string, fsp int) string {
	digits := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		digits = len(s) - i - 1
	} else if fsp > 0 {
		s += "."
	}
	return s + strings.Repeat("0", max(fsp-digits, 0))
}

// padded restores the trailing zero bytes the binlog leaves out of a
// fixed-length binary value (BINARY(n), UUID, INET6), in a new slice.
func padded(b []byte, n int) []byte {
	out := make([]byte, max(n, len(b)))
	copy(out, b)
	return out
}

// parenthesized is the number in "binary(16)".
func parenthesized(columnType string) int {
	i, j := strings.IndexByte(columnType, '('), strings.IndexByte(columnType, ')')
	if i < 0 || j < i {
		return 0
	}
	n, _ := strconv.Atoi(columnType[i+1 : j]) // no number: 0, no padding
	return n
}

// uuidText is a MariaDB UUID as it prints one: the binlog holds its 16
// bytes in the printed order.
func uuidText(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// inet6Text is a MariaDB INET6 as it prints one (Inet6::to_string): lower
// case hex groups without leading zeros, the longest run of zero groups
// (the first of equal runs, even a single group, unlike RFC 5952) as "::",
// and IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d)
// addresses with a dotted tail.
func inet6Text(b []byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(b[2*i])<<8 | int(b[2*i+1])
	}
	gapPos, gapLen := -1, 0
	for i := 0; i < 8; {
		j := i
		for j < 8 && w[j] == 0 {
			j++
		}
		if j-i > gapLen {
			gapPos, gapLen = i, j-i
		}
		i = max(j, i+1)
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		switch {
		case i == gapPos:
			if i == 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(':')
			i += gapLen - 1
		case i == 6 && gapPos == 0 && (gapLen == 6 || gapLen == 5 && w[5] == 0xffff):
			fmt.Fprintf(&sb, "%d.%d.%d.%d", b[12], b[13], b[14], b[15])
			return sb.String()
		default:
			sb.WriteString(strconv.FormatInt(int64(w[i]), 16))
			if i < 7 {
				sb.WriteByte(':')
			}
		}
	}
	return sb.String()
}

// enumMembers reads the members of an ENUM or SET from its COLUMN_TYPE,
// enum('a','it”s','b\\c'): quotes doubled, and backslash escapes for the
// characters MySQL escapes there (\0, \n, \r, \\; others are taken as the
// character itself).
func enumMembers(columnType string) ([]string, error) {
	i := strings.IndexByte(columnType, '(')
	if i < 0 || !strings.HasSuffix(columnType, ")") {
		return nil, errors.New("no member list")
	}
	s := columnType[i+1 : len(columnType)-1]
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, fmt.Errorf("member %d is not quoted", len(out)+1)
		}
		m, rest, err := quotedMember(s[1:])
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", len(out)+1, err)
		}
		out = append(out, m)
		s = strings.TrimPrefix(rest, ",")
	}
	return out, nil
}

// quotedMember reads one member up to its closing quote.
func quotedMember(s string) (member, rest string, err error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			sb.WriteByte('\'')
			i++
		case c == '\'':
			return sb.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			sb.WriteByte(unescape(s[i]))
		default:
			sb.WriteByte(c)
		}
	}
	return "", "", errors.New("no closing quote")
}

func unescape(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'Z':
		return 0x1a
	}
	return c
}
