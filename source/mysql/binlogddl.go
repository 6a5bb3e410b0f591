package mysql

import (
	"slices"
	"strings"
)

// stmtKind is what a statement in the binlog (a Query event) does to a
// change stream.
type stmtKind int

const (
	// stmtOther changes tables' definitions (ALTER, RENAME, DROP, CREATE
	// ...): the streamed tables it names are described again.
	stmtOther stmtKind = iota
	stmtBegin
	// stmtCommit ends a transaction that has no XID: one of
	// non-transactional tables (COMMIT), or one rolled back after it
	// changed some (ROLLBACK).
	stmtCommit
	// stmtIgnore changes nothing: SAVEPOINT, ROLLBACK TO, XA.
	stmtIgnore
	stmtTruncate
	// stmtRows changes rows by statement (a session with
	// binlog_format = STATEMENT or MIXED): the binlog has no rows to
	// stream, so the tables it names are copied again.
	stmtRows
	// stmtDropDatabase drops every table of names[0].
	stmtDropDatabase
	// stmtReplace may put another table, with other rows, under the names
	// it mentions (DROP, CREATE, RENAME TABLE; ALTER ... RENAME): the
	// streamed tables it names are copied again even when the new one has
	// the same shape.
	stmtReplace
)

// statement is a Query event's statement as the stream reads it.
type statement struct {
	kind stmtKind
	// names are the names the statement mentions that may name tables:
	// each [database, table], database "" when unqualified. A truncate's
	// is its table; a dropped database's, [name, ""].
	names [][2]string
}

// parseStatement reads what a Query event's statement does. It does not
// parse SQL: it finds the statement's kind by its first words, and every
// name in it (tokens outside strings and comments; over-reading is safe,
// as describing a table again that did not change changes nothing).
func parseStatement(query string) statement {
	toks := tokenize(query)
	word := func(i int) string {
		if i < len(toks) && toks[i].kind == tokWord {
			return strings.ToUpper(toks[i].text)
		}
		return ""
	}
	st := statement{kind: stmtOther}
	switch first := word(0); first {
	case "BEGIN":
		if len(toks) == 1 || word(1) == "WORK" {
			return statement{kind: stmtBegin}
		}
	case "START":
		if word(1) == "TRANSACTION" {
			return statement{kind: stmtBegin}
		}
	case "COMMIT":
		return statement{kind: stmtCommit}
	case "ROLLBACK":
		if word(1) == "TO" || (word(1) == "WORK" && word(2) == "TO") {
			return statement{kind: stmtIgnore}
		}
		return statement{kind: stmtCommit}
	case "SAVEPOINT", "RELEASE", "XA":
		return statement{kind: stmtIgnore}
	case "TRUNCATE":
		i := 1
		if word(1) == "TABLE" {
			i = 2
		}
		if n, _, ok := qualifiedName(toks, i); ok {
			return statement{kind: stmtTruncate, names: [][2]string{n}}
		}
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
		st.kind = stmtRows
	case "CREATE", "RENAME":
		if word(1) == "TABLE" || (word(1) == "OR" && word(2) == "REPLACE" && word(3) == "TABLE") {
			st.kind = stmtReplace
		}
	case "ALTER":
		if slices.ContainsFunc(toks, func(t token) bool { return t.kind == tokWord && strings.EqualFold(t.text, "RENAME") }) {
			st.kind = stmtReplace
		}
	case "DROP":
		if word(1) == "TABLE" {
			st.kind = stmtReplace
		}
		if w := word(1); w == "DATABASE" || w == "SCHEMA" {
			i := 2
			if word(2) == "IF" && word(3) == "EXISTS" {
				i = 4
			}
			if i < len(toks) && toks[i].kind != tokPunct {
				return statement{kind: stmtDropDatabase, names: [][2]string{{toks[i].text, ""}}}
			}
		}
	}
	for i := 0; i < len(toks); {
		n, next, ok := qualifiedName(toks, i)
		if ok {
			st.names = append(st.names, n)
		}
		i = next
	}
	return st
}

// qualifiedName reads a name (table or database.table) at toks[i]; next is
// the token after it.
func qualifiedName(toks []token, i int) (name [2]string, next int, ok bool) {
	if i >= len(toks) || toks[i].kind == tokPunct || toks[i].kind == tokDot {
		return name, i + 1, false
	}
	if i+2 < len(toks) && toks[i+1].kind == tokDot && (toks[i+2].kind == tokWord || toks[i+2].kind == tokIdent) {
		return [2]string{toks[i].text, toks[i+2].text}, i + 3, true
	}
	return [2]string{"", toks[i].text}, i + 1, true
}

type tokKind int

const (
	tokWord  tokKind = iota // a bare word: keyword, name or number
	tokIdent                // a `quoted` name
	tokDot
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

// tokenize splits SQL into words, quoted names, dots and punctuation,
// leaving out strings and comments. The code in MySQL's executable
// comments (/*!50100 ... */, MariaDB's /*M!...*/) is read as code.
func tokenize(q string) []token {
	var out []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!"):
			i += strings.IndexByte(q[i:], '!') + 1
			for i < len(q) && q[i] >= '0' && q[i] <= '9' {
				i++
			}
		case strings.HasPrefix(q[i:], "*/"):
			i += 2
		case strings.HasPrefix(q[i:], "/*"):
			i = skipPast(q, i+2, "*/")
		case c == '#' || strings.HasPrefix(q[i:], "-- ") || q[i:] == "--":
			i = skipPast(q, i, "\n")
		case c == '\'' || c == '"':
			i = skipQuoted(q, i)
		case c == '`':
			end := skipQuoted(q, i)
			text := q[i+1 : max(end-1, i+1)]
			out = append(out, token{kind: tokIdent, text: strings.ReplaceAll(text, "``", "`")})
			i = end
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			out = append(out, token{kind: tokWord, text: q[i:j]})
			i = j
		case c == '.':
			out = append(out, token{kind: tokDot, text: "."})
			i++
		default:
			out = append(out, token{kind: tokPunct, text: q[i : i+1]})
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// skipPast returns the index after the next end at or after i, or len(q).
func skipPast(q string, i int, end string) int {
	if j := strings.Index(q[i:], end); j >= 0 {
		return i + j + len(end)
	}
	return len(q)
}

// skipQuoted returns the index after the quoted text that starts at q[i]:
// a doubled quote, or (in strings) a backslash, escapes one.
func skipQuoted(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case q[j] == '\\' && quote != '`':
			j++
		case q[j] == quote && j+1 < len(q) && q[j+1] == quote:
			j++
		case q[j] == quote:
			return j + 1
		}
	}
	return len(q)
}
