package postgres

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/arena"
)

// A page reads an array as to_json(col)::text; logical replication sends
// the array's own text (array_out). The decoders here turn the second into
// the first, element by element, as to_json writes each element type.

// elemJSON appends what to_json writes for one array element, given the
// element's text output.
type elemJSON func(dst, text []byte) ([]byte, error)

// maxDims is the most dimensions a Postgres array has (MAXDIM).
const maxDims = 6

// textArray is the text decoder of an array type (category A).
func textArray(t pgType) decoder {
	elem, err := jsonElem(t.elem)
	if err != nil {
		return untextable(err.Error())
	}
	if t.oid == oidInt2Vector || t.oid == oidOIDVector {
		return textVector(elem)
	}
	return func(raw []byte, _ *arena.Arena) (litepull.Value, error) {
		out, err := appendArrayJSON(make([]byte, 0, len(raw)+len(raw)/4+2), raw, t.elem.delim, elem)
		if err != nil {
			return nil, err
		}
		return string(out), nil
	}
}

// jsonElem picks how to_json writes an element of type e
// (json_categorize_type).
func jsonElem(e elemType) (elemJSON, error) {
	switch e.oid {
	case oidInt2, oidInt4, oidInt8, oidFloat4, oidFloat8, oidNumeric:
		return appendJSONNumber, nil
	case oidBool:
		return appendJSONBool, nil
	case oidJSON, oidJSONB:
		return func(dst, text []byte) ([]byte, error) { return append(dst, text...), nil }, nil
	case oidTimestamp:
		return appendJSONStamp(false), nil
	case oidTimestampTZ:
		return appendJSONStamp(true), nil
	}
	switch {
	case e.oid == 0:
		return nil, errors.New("an array type without an element type")
	case e.category == "A":
		return nil, fmt.Errorf("to_json nests arrays of arrays (element type %d) by the inner arrays' own elements", e.oid)
	case e.category == "C":
		return nil, fmt.Errorf("to_json writes the composite elements (type %d) as objects, by field names the text does not hold", e.oid)
	case e.jsonCast && e.oid >= firstNormalOID:
		return nil, fmt.Errorf("to_json writes the elements (type %d) by their cast to json", e.oid)
	}
	// Dates are written alike in DateStyle ISO and to_json's XSD style.
	return func(dst, text []byte) ([]byte, error) { return appendJSONString(dst, text), nil }, nil
}

// textVector is the text decoder of int2vector and oidvector, whose text
// is their elements separated by spaces.
func textVector(elem elemJSON) decoder {
	return func(raw []byte, _ *arena.Arena) (litepull.Value, error) {
		dst := []byte{'['}
		for i, f := range bytes.Split(raw, []byte{' '}) {
			if len(raw) == 0 {
				break
			}
			if len(f) == 0 {
				return nil, fmt.Errorf("vector text %q", raw)
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = elem(dst, f); err != nil {
				return nil, err
			}
		}
		return string(append(dst, ']')), nil
	}
}

// appendJSONNumber writes a number's text as it is when it is a JSON
// number, else (NaN, Infinity) as a string.
func appendJSONNumber(dst, text []byte) ([]byte, error) {
	if validJSONNumber(text) {
		return append(dst, text...), nil
	}
	return appendJSONString(dst, text), nil
}

func appendJSONBool(dst, text []byte) ([]byte, error) {
	switch string(text) {
	case "t":
		return append(dst, "true"...), nil
	case "f":
		return append(dst, "false"...), nil
	}
	return nil, fmt.Errorf("boolean text %q, want t or f", text)
}

// appendJSONStamp writes a timestamp's DateStyle ISO text in to_json's XSD
// style: "2024-01-02T03:04:05.5+00:00".
func appendJSONStamp(zone bool) elemJSON {
	return func(dst, text []byte) ([]byte, error) {
		switch string(text) {
		case "infinity", "-infinity":
			return appendJSONString(dst, text), nil
		}
		st, err := parseStamp(text, true, zone)
		if err != nil {
			return nil, err
		}
		return append(st.appendXSD(append(dst, '"'), zone), '"'), nil
	}
}

// validJSONNumber is Postgres' IsValidJsonNumber: the JSON number grammar.
func validJSONNumber(s []byte) bool {
	i := 0
	digits := func() int {
		n := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// appendJSONString writes text as a JSON string as Postgres' escape_json
// does: short escapes for \b \f \n \r \t " \, \u00xx for other control
// characters, everything else as it is.
func appendJSONString(dst, text []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range text {
		switch c {
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		default:
			if c < ' ' {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// arrayText reads an array's text output: optional bounds
// ("[0:1][1:2]="), then nested braces of elements separated by delim,
// each element quoted (with backslash escapes) or bare, NULL for null.
type arrayText struct {
	s     []byte
	i     int
	delim byte
	elem  elemJSON
	buf   []byte // the current quoted element, unescaped
}

// appendArrayJSON writes the array text s as to_json does: the nesting of
// its dimensions, without their bounds.
func appendArrayJSON(dst, s []byte, delim byte, elem elemJSON) ([]byte, error) {
	p := arrayText{s: s, delim: delim, elem: elem}
	var err error
	if err = p.bounds(); err == nil {
		dst, err = p.dim(dst, 1)
	}
	if err == nil && p.i != len(s) {
		err = fmt.Errorf("text after the array at byte %d", p.i)
	}
	if err != nil {
		return nil, fmt.Errorf("array text: %w", err)
	}
	return dst, nil
}

func (p *arrayText) next(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// bounds skips the dimensions array_out writes when a lower bound is not 1.
func (p *arrayText) bounds() error {
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return nil
	}
	for p.next('[') {
		if !p.int() || !p.next(':') || !p.int() || !p.next(']') {
			return fmt.Errorf("bad bounds at byte %d", p.i)
		}
	}
	if !p.next('=') {
		return fmt.Errorf("bounds without = at byte %d", p.i)
	}
	return nil
}

// int skips an optionally negative integer.
func (p *arrayText) int() bool {
	p.next('-')
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// dim writes one dimension, {...}, as [...].
func (p *arrayText) dim(dst []byte, depth int) ([]byte, error) {
	if depth > maxDims {
		return nil, fmt.Errorf("more than %d dimensions", maxDims)
	}
	if !p.next('{') {
		return nil, fmt.Errorf("no { at byte %d", p.i)
	}
	dst = append(dst, '[')
	if p.next('}') {
		return append(dst, ']'), nil
	}
	for {
		var err error
		if p.i < len(p.s) && p.s[p.i] == '{' {
			dst, err = p.dim(dst, depth+1)
		} else {
			dst, err = p.element(dst)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case p.next(p.delim):
			dst = append(dst, ',')
		case p.next('}'):
			return append(dst, ']'), nil
		default:
			return nil, fmt.Errorf("no %q or } at byte %d", p.delim, p.i)
		}
	}
}

// element writes one element, quoted or bare.
func (p *arrayText) element(dst []byte) ([]byte, error) {
	if p.next('"') {
		p.buf = p.buf[:0]
		for p.i < len(p.s) {
			c := p.s[p.i]
			p.i++
			switch {
			case c == '"':
				return p.elem(dst, p.buf)
			case c == '\\' && p.i < len(p.s):
				c = p.s[p.i]
				p.i++
			case c == '\\':
				return nil, errors.New("unterminated quoted element")
			}
			p.buf = append(p.buf, c)
		}
		return nil, errors.New("unterminated quoted element")
	}
	start := p.i
	for ; p.i < len(p.s) && p.s[p.i] != p.delim && p.s[p.i] != '}'; p.i++ {
		// array_out quotes an element with any of these.
		if bytes.IndexByte([]byte("{\"\\ \t\n\r\v\f"), p.s[p.i]) >= 0 {
			return nil, fmt.Errorf("bare element with %q at byte %d", p.s[p.i], p.i)
		}
	}
	text := p.s[start:p.i]
	switch {
	case len(text) == 0:
		return nil, fmt.Errorf("empty bare element at byte %d", p.i)
	case bytes.EqualFold(text, []byte("NULL")):
		return append(dst, "null"...), nil
	}
	return p.elem(dst, text)
}
