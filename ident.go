package litepull

import (
	"fmt"
	"strings"
)

// ValidIdent reports whether name is a plain SQL identifier:
// ^[A-Za-z_][A-Za-z0-9_]*$. Only such names are ever put into SQL text.
func ValidIdent(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckIdent returns an error wrapping ErrBadIdentifier when name is not a
// plain identifier. what says what the name is ("column", "table").
func CheckIdent(what, name string) error {
	if !ValidIdent(name) {
		return fmt.Errorf("%w: %s %q must match ^[A-Za-z_][A-Za-z0-9_]*$", ErrBadIdentifier, what, name)
	}
	return nil
}

// SplitQualified splits a possibly schema-qualified table name ("public.users")
// into its parts and checks each one.
func SplitQualified(name string) ([]string, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("%w: table %q has more than one dot; use schema.table", ErrBadIdentifier, name)
	}
	for _, p := range parts {
		if err := CheckIdent("table", p); err != nil {
			return nil, fmt.Errorf("%w: table %q: part %q must match ^[A-Za-z_][A-Za-z0-9_]*$", ErrBadIdentifier, name, p)
		}
	}
	return parts, nil
}

// QuoteIdent quotes an already validated identifier with the dialect's quote
// character (" for SQLite and Postgres, ` for MySQL), doubling any quote
// inside so that even a name that slipped past validation stays one token.
func QuoteIdent(name string, quote byte) string {
	q := string(quote)
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// QuoteQualified quotes each part of a qualified name and joins them with dots.
func QuoteQualified(parts []string, quote byte) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = QuoteIdent(p, quote)
	}
	return strings.Join(out, ".")
}
