package postgres

import (
	"encoding/json"
	"testing"
)

// stringsJSON writes every element as a JSON string, numbers as numbers.
func stringsJSON(dst, text []byte) ([]byte, error) { return appendJSONString(dst, text), nil }

func TestArrayTextToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		delim      byte
		number     bool // elements written by appendJSONNumber
		want       string
	}{
		{"Empty", `{}`, ',', true, `[]`},
		{"Nulls", `{1,NULL,2,null,NuLl}`, ',', true, `[1,null,2,null,null]`},
		{"QuotedNullIsText", `{"NULL","null",NULL}`, ',', false, `["NULL","null",null]`},
		{"TwoDims", `{{1,2},{3,4}}`, ',', true, `[[1,2],[3,4]]`},
		{"SixDims", `{{{{{{1}}}}}}`, ',', true, `[[[[[[1]]]]]]`},
		{"BoundsDropped", `[0:1]={1,2}`, ',', true, `[1,2]`},
		{"NegativeBounds", `[-2:-1][3:4]={{1,NULL},{3,4}}`, ',', true, `[[1,null],[3,4]]`},
		{"NotNumbers", `{NaN,Infinity,-Infinity,-0,1e+20,1.5e-07,01,1.,.5,-}`, ',', true,
			`["NaN","Infinity","-Infinity",-0,1e+20,1.5e-07,"01","1.",".5","-"]`},
		{"Escapes", `{"a\"b\\c","","{}","a,b"," x ","\x"}`, ',', false, `["a\"b\\c","","{}","a,b"," x ","x"]`},
		{"ControlCharacters", "{\"\x01\x1f\t\n\r\b\f\x7f\"}", ',', false, `["\u0001\u001f\t\n\r\b\f` + "\x7f" + `"]`},
		{"Unicode", `{é🌍,"中 文"}`, ',', false, `["é🌍","中 文"]`},
		{"OtherDelimiter", `{(3,4),(1,2);(5,6),(0,0)}`, ';', false, `["(3,4),(1,2)","(5,6),(0,0)"]`},
		{"BracketsInQuotes", `{"[1:2]={x}","}"}`, ',', false, `["[1:2]={x}","}"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elem := stringsJSON
			if tc.number {
				elem = appendJSONNumber
			}
			got, err := appendArrayJSON(nil, []byte(tc.text), tc.delim, elem)
			if err != nil {
				t.Fatalf("%s: %v", tc.text, err)
			}
			if string(got) != tc.want {
				t.Fatalf("%s = %s, want %s", tc.text, got, tc.want)
			}
		})
	}
}

func TestArrayTextRejectsMalformed(t *testing.T) {
	for _, text := range []string{
		``, `{`, `}`, `{1,2`, `{1,,2}`, `{,}`, `{1,}`, `{"a}`, `{"a\`, `{a"b}`, `{a b}`, `{a\b}`, `{1}x`, `1,2}`,
		`[0:1]{1}`, `[a:1]={1}`, `[0:1={1}`, `[]={1}`, `{{{{{{{1}}}}}}}`, `{"a"b}`, `{{1}{2}}`,
	} {
		if got, err := appendArrayJSON(nil, []byte(text), ',', stringsJSON); err == nil {
			t.Errorf("%q read as %s, want an error", text, got)
		}
	}
}

// FuzzArrayText checks that any text either fails or reads as valid JSON.
func FuzzArrayText(f *testing.F) {
	for _, s := range []string{`{}`, `{{1,2},{3,4}}`, `[0:1]={1,"a\"b"}`, `{NULL,"NULL"}`, `{a;b}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, elem := range []elemJSON{stringsJSON, appendJSONNumber} {
			out, err := appendArrayJSON(nil, []byte(text), ',', elem)
			if err == nil && !json.Valid(out) {
				t.Fatalf("%q read as invalid JSON %s", text, out)
			}
		}
	})
}

func TestStampRejectsMalformed(t *testing.T) {
	for _, text := range []string{
		``, `2024-01-02`, `2024-1-02 00:00:00`, `2024-02-30 00:00:00`, `2024-13-01 00:00:00`, `2024-01-02T00:00:00`,
		`2024-01-02 24:00:00`, `2024-01-02 00:60:00`, `2024-01-02 00:00:00.1234567`, `2024-01-02 00:00:00 AD`,
		`0000-01-01 00:00:00`, `294277-01-01 00:00:00`, `4715-01-01 00:00:00 BC`, `2024-01-02 00:00:00+`,
	} {
		if st, err := parseStamp([]byte(text), true, false); err == nil {
			t.Errorf("%q read as %+v, want an error", text, st)
		}
	}
	if st, err := parseStamp([]byte("2024-01-02 00:00:00"), true, true); err == nil {
		t.Errorf("timestamptz text without offset read as %+v, want an error", st)
	}
}

func TestValueDecodersRejectMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		dec  decoder
		text string
	}{
		"bool":       {textBool, "true"},
		"byteaEsc":   {textBytea, `abc`},
		"byteaHex":   {textBytea, `\x0`},
		"time":       {textTime, "24:00:00.000001"},
		"uuid":       {textUUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
		"uuidHex":    {textUUID, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		"oid":        {textOID, "4294967296"},
		"int":        {textInt, "1.0"},
		"float":      {textFloat(64), "1,5"},
		"date":       {textDate, "2024-01-02 00:00:00"},
		"vector":     {textVector(appendJSONNumber), "1  2"},
		"arrayElem":  {textArray(pgType{category: "A", elem: elemType{oid: oidBool, delim: ','}}), "{true}"},
		"composite":  {textArray(pgType{category: "A", elem: elemType{oid: 20000, category: "C", delim: ','}}), "{}"},
		"jsonCast":   {textArray(pgType{category: "A", elem: elemType{oid: 20000, category: "E", delim: ',', jsonCast: true}}), "{}"},
		"textCast":   {textOther(pgType{oid: 20000, category: "U", textCast: true}), "x"},
		"nestedArrs": {textArray(pgType{category: "A", elem: elemType{oid: oidInt2Vector, category: "A", delim: ','}}), "{}"},
	} {
		if v, err := tc.dec([]byte(tc.text), nil); err == nil {
			t.Errorf("%s: %q read as %#v, want an error", name, tc.text, v)
		}
	}
}

// FuzzTextDecoders checks that the scalar text decoders fail on text they
// cannot read rather than panic.
func FuzzTextDecoders(f *testing.F) {
	for _, s := range []string{"2024-01-02 03:04:05.5+05:30", "0044-03-15 BC", "24:00:00", `\x00ff`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1 2"} {
		f.Add(s)
	}
	decoders := []decoder{textTimestamp(true), textTimestamp(false), textDate, textTime, textUUID, textBytea, textBool,
		textVector(appendJSONNumber), textArray(pgType{category: "A", elem: elemType{oid: oidTimestampTZ, delim: ','}})}
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range decoders {
			d([]byte(text), nil)
		}
	})
}
