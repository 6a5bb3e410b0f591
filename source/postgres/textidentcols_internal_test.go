package postgres

import (
	"math/rand/v2"
)

// identColumns are the columns of TestTextValueMatchesPage: every type the
// Postgres type tests use, and the edges of each text form.
func identColumns() []identColumn {
	text := func(r *rand.Rand) string { return quote(randText(r)) }
	return append(append(scalarIdentColumns(), otherIdentColumns()...), []identColumn{
		{"ai", "integer[]", []string{`'{}'`, `'{1,2,NULL}'`, `'{{1,2},{3,4}}'`, `'[0:1]={1,2}'`, `'[-2:-1][3:4]={{1,NULL},{3,4}}'`,
			`'{{{1}},{{2}}}'`, `'{NULL}'`, `'{{{{{{1}}}}}}'`, `'[5:5]={-2147483648}'`}, randArray("integer[]", randInt(32))},
		{"ai2", "smallint[]", []string{`'{-32768,32767}'`}, nil},
		{"ai8", "bigint[]", []string{`'{-9223372036854775808,9223372036854775807}'`}, randArray("bigint[]", randInt(64))},
		{"af4", "real[]", []string{`'{NaN,Infinity,-Infinity,-0,1e-45,1.1754942e-38,0.1,3.4028235e38,16777217,1e20}'`}, randArray("real[]", randFloat4)},
		{"af8", "double precision[]", []string{`'{NaN,Infinity,-Infinity,-0,5e-324,2.225073858507201e-308,0.1,1e21,1e-7,1.7976931348623157e308}'`},
			randArray("double precision[]", randFloat8)},
		{"anum", "numeric[]", []string{`'{NaN,Infinity,-Infinity,1.50,-0.000,1e-20,12345678901234567890.123}'`}, randArray("numeric[]", randNumeric)},
		{"ab", "boolean[]", []string{`'{t,f,NULL}'`, `'{{t},{f}}'`}, nil},
		{"at", "text[]", []string{`'{"a b","c\"d","",NULL,"NULL","null","{}","a,b"," x ","\\"}'`,
			"ARRAY[E'\\x01\\x1f\\t\\n\\r\\b\\f\\x7f\\v', 'é🌍中', '[1:2]={x}', ';']", `'[0:0][1:2]={{a,b}}'`}, randArray("text[]", text)},
		{"avc", "varchar(5)[]", []string{`'{"a b",c}'`}, nil},
		{"ach", "char(2)[]", []string{`'{a,"b ",""}'`}, nil},
		{"anm", "name[]", []string{`'{"a b",c}'`}, nil},
		{"ac", `"char"[]`, []string{`'{a,b}'`, `ARRAY[E'\\377'::"char", '']`}, nil},
		{"aj", "json[]", []string{`ARRAY['{"a" : 1}'::json, ' [1, 2] ', 'null', '"\u00e9\u0000"', '1e5', NULL]`}, nil},
		{"ajb", "jsonb[]", []string{`ARRAY['{"a": 1}'::jsonb, '[1, 2]', 'null', '"s\"q"', '1.50']`}, randArray("jsonb[]", randJSONB)},
		{"ats", "timestamp[]", []string{`ARRAY['2024-01-02 03:04:05.123456'::timestamp, '2024-01-02 03:04:05', '2024-01-02 03:04:05.1', 'infinity',
			'-infinity', '0044-03-15 00:00:00 BC', '10000-01-01', '294276-12-31 23:59:59.999999', '4713-01-01 BC', '0001-01-01', NULL]`},
			randArray("timestamp[]", randStamp("timestamp"))},
		{"atstz", "timestamptz[]", []string{`ARRAY['2024-01-02 03:04:05.123456+00'::timestamptz, '2024-01-02 03:04:05+05:30', 'infinity',
			'-infinity', '0044-03-15 00:00:00+00 BC', '10000-01-01+00', '294276-12-31 23:59:59.999999+00', '4713-01-01 00:00:00+00 BC',
			'1883-11-18 12:00:00 America/New_York']`}, randArray("timestamptz[]", randStamp("timestamptz"))},
		{"ad", "date[]", []string{`ARRAY['2024-01-02'::date, 'infinity', '-infinity', '0044-03-15 BC', '10000-01-01', '5874897-12-31', '4714-11-24 BC']`},
			randArray("date[]", randDate)},
		{"atm", "time[]", []string{`'{03:04:05.5,24:00:00,00:00:00}'`}, randArray("time[]", randTime)},
		{"attz", "timetz[]", []string{`'{03:04:05.5+02,00:00:00-15:59}'`}, nil},
		{"au", "uuid[]", []string{`'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'`}, randArray("uuid[]", randUUID)},
		{"aby", "bytea[]", []string{`ARRAY['\x0102'::bytea, '\x', NULL]`}, randArray("bytea[]", randBytes)},
		{"aiv", "interval[]", []string{`'{"1 day","-1 mons",00:00:00}'`}, nil},
		{"aip", "inet[]", []string{`'{192.168.1.1,::1/128,10.0.0.0/8}'`}, nil},
		{"amood", "mood[]", []string{`ARRAY['sad'::mood, 'a "q"', 'x,y', ' sp ']`}, nil},
		{"abx", "box[]", []string{`'{(1,2),(3,4);(5,6),(7,8)}'`, `'{}'`}, nil},
		{"ao", "oid[]", []string{`'{1,4294967295}'`}, nil},
		{"adint", "dint[]", []string{`'{1,NULL}'`}, nil},
		{"add2", "dd2[]", []string{`'{5,6}'`}, nil},
		{"darr", "darr", []string{`'{1,2}'`, `'[2:3]={1,2}'`}, nil},
		{"ar", "int4range[]", []string{`'{"[1,3)",empty}'`}, nil},
		{"amon", "money[]", []string{`'{$1.50}'`}, nil},
		{"apt", "point[]", []string{`'{"(1,2)"}'`}, nil},
	}...)
}

func scalarIdentColumns() []identColumn {
	return []identColumn{
		{"i2", "smallint", []string{"-32768", "32767", "0"}, randInt(16)},
		{"i4", "integer", []string{"-2147483648", "2147483647", "0"}, randInt(32)},
		{"i8", "bigint", []string{"-9223372036854775808", "9223372036854775807", "0"}, randInt(64)},
		{"o", "oid", []string{"0", "4294967295", "1"}, nil},
		{"f4", "real", floats("float4", "NaN", "Infinity", "-Infinity", "-0", "0", "1e-45", "1.1754942e-38", "1.17549435e-38", "3.4028235e38",
			"0.1", "16777217", "-1.5e-40", "1e20", "123456.79"), randFloat4},
		{"f8", "double precision", floats("float8", "NaN", "Infinity", "-Infinity", "-0", "0", "5e-324", "2.225073858507201e-308",
			"2.2250738585072014e-308", "1.7976931348623157e308", "0.1", "1e21", "1e-7", "123456789012345680", "9007199254740993"), randFloat8},
		{"b", "boolean", []string{"true", "false"}, nil},
		{"by", "bytea", []string{`'\x'`, `'\x00ff'`, "decode(repeat('ab', 300000), 'hex')"}, randBytes},
		{"ts", "timestamp", quoteAll("infinity", "-infinity", "2024-01-02 03:04:05.123456", "0044-03-15 00:00:00 BC", "4713-01-01 00:00:00 BC",
			"0001-01-01 00:00:00", "0001-12-31 23:59:59.999999 BC", "9999-12-31 23:59:59.999999", "10000-01-01 00:00:00",
			"294276-12-31 23:59:59.999999", "1969-12-31 23:59:59.5", "2000-02-29 12:00:00.000001"), randStamp("timestamp")},
		{"ts3", "timestamp(3)", quoteAll("2024-01-02 03:04:05.1239", "0010-01-01 00:00:00.5 BC"), nil},
		{"tstz", "timestamptz", quoteAll("infinity", "-infinity", "2024-01-02 03:04:05.123456+05:30", "0044-03-15 00:00:00+00 BC",
			"4713-01-01 00:00:00+00 BC", "294276-12-31 23:59:59.999999+00", "10000-01-01 00:00:00-03", "1883-11-18 12:00:00 America/New_York",
			"0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00"), randStamp("timestamptz")},
		{"d", "date", quoteAll("infinity", "-infinity", "2024-02-29", "0044-03-15 BC", "4714-11-24 BC", "5874897-12-31", "10000-01-01",
			"0001-01-01", "0001-12-31 BC", "1999-12-31", "2000-01-01"), randDate},
		{"tm", "time", quoteAll("00:00:00", "24:00:00", "23:59:59.999999", "12:34:56.5", "00:00:00.000001"), randTime},
		{"ttz", "timetz", quoteAll("00:00:00+00", "24:00:00-15:59", "12:00:00.5+14:59", "12:00:00-05:30:15"), randTimeTZ},
		{"u", "uuid", quoteAll("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
			"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), randUUID},
		{"num", "numeric(38,10)", quoteAll("1234567890123456789012345678.0123456789", "-0.0000000001", "0", "NaN"), nil},
		{"numa", "numeric", quoteAll("NaN", "Infinity", "-Infinity", "-0", "1e-130", "3.14159265358979323846264338327950288419716939937510",
			"1e100", "0.000"), randNumeric},
		{"j", "json", quoteAll(`{"b": 1,  "a": [1,2]}`, "[]", "null", `"\u0000é"`, ` { "x" : "é" } `), nil},
		{"jb", "jsonb", quoteAll(`{"b": 1, "a": [1,2]}`, "null", `"é\u00e9"`, `{"k": 1.50}`), randJSONB},
		{"t", "text", quoteAll("", "héllo 🌍 中文", "tab\there\nnew", "NULL", `"quoted" \ back`), func(r *rand.Rand) string { return quote(randText(r)) }},
		{"vc", "varchar(10)", quoteAll("", "ten chars!"), nil},
		{"ch", "char(3)", quoteAll("", "ab", "abc"), nil},
		{"nm", "name", quoteAll("a b", ""), nil},
		{"c", `"char"`, []string{"'a'", "''", `E'\\377'`}, nil},
		{"dint", "dint", []string{"1", "-5"}, nil},
		{"dd2", "dd2", []string{"5"}, nil},
	}
}

// otherIdentColumns are types a page reads as col::text.
func otherIdentColumns() []identColumn {
	return []identColumn{
		{"iv", "interval", quoteAll("1 day 02:03:04.5", "-1 mons", "178000000 years", "0"), nil},
		{"ip", "inet", quoteAll("192.168.1.1", "192.168.1.0/24", "::1", "2001:db8::1/64", "::ffff:1.2.3.4", "10.0.0.1/32"), nil},
		{"cd", "cidr", quoteAll("10.0.0.0/8", "2001:db8::/32"), nil},
		{"mon", "money", quoteAll("$1.50", "-92233720368547758.08"), nil},
		{"md", "mood", quoteAll("sad", "a \"q\"", "x,y", " sp "), nil},
		{"rg", "int4range", quoteAll("[1,3)", "empty", "(,5]"), nil},
		{"tsr", "tstzrange", quoteAll("[2024-01-01, 2024-02-01)", "(,infinity]"), nil},
		{"pt", "point", quoteAll("(1,2)", "(-0,NaN)", "(1e300,-1e-300)"), nil},
		{"bx", "box", quoteAll("(1,2),(3,4)"), nil},
		{"vb", "bit varying", []string{"B'1010'", "B''"}, nil},
		{"mac", "macaddr", quoteAll("08:00:2b:01:02:03"), nil},
		{"xm", "xml", quoteAll("<a>b</a>"), nil},
		{"i2v", "int2vector", quoteAll("1 2 3", "", "-32768"), nil},
		{"ov", "oidvector", quoteAll("1 2", "", "4294967295"), nil},
	}
}

func quoteAll(vals ...string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = quote(v)
	}
	return out
}

// floats are typed literals.
func floats(typ string, vals ...string) []string {
	out := quoteAll(vals...)
	for i := range out {
		out[i] += "::" + typ
	}
	return out
}
