package remote

import (
	"regexp"
	"strings"
)

// On StarbaseDB, whose request runs statement by statement, a request
// claims the writer row before anything else, and every statement after
// the claim runs only while the claim is still its own:
//
//	UPDATE litepull_writer SET seq = <expected+1>, token = '<token>.claim' WHERE id = 1 AND seq = <expected>
//	INSERT INTO litepull_guard (conflict) SELECT 1 WHERE NOT EXISTS (... token = '<token>.claim')  -- another writer: stop
//	... the batch, each statement "... AND EXISTS (... token = '<token>.claim')" ...
//	UPDATE litepull_writer SET token = '<token>' WHERE id = 1 AND token = '<token>.claim'
//
// Statements run one at a time, so of two writers only one claims the
// sequence; and a request the service goes on running after its client
// gave up (sent again meanwhile, under a new claim) changes nothing once
// a later request claimed the row. A claim left without its final token
// is a request cut short: sent again, under a new claim. Statements that
// change tables (CREATE, DROP, ALTER) cannot be conditioned; they run
// only in requests that are not sent again (commitDDL).

// claimSuffix marks a token as claimed by a request not yet complete.
const claimSuffix = ".claim"

var (
	valuesRe   = regexp.MustCompile(`\sVALUES\s`)
	conflictRe = regexp.MustCompile(`\sON CONFLICT\s`)
	whereRe    = regexp.MustCompile(`\sWHERE\s`)
)

// claimed wraps a batch's statements between the claim and the final
// token (see above).
func (r *Replica) claimed(stmts []stmt, token string) []stmt {
	claim := token + claimSuffix
	held := "EXISTS (SELECT 1 FROM " + WriterTable + " WHERE id = 1 AND token = '" + claim + "')"
	seq, expr := r.bind(r.seq)
	next, nextExpr := r.bind(r.seq + 1)
	out := make([]stmt, 0, len(stmts)+3)
	out = append(out,
		stmt{SQL: "UPDATE " + WriterTable + " SET seq = " + nextExpr + ", token = '" + claim + "' WHERE id = 1 AND seq = " + expr, Args: []any{next, seq}},
		plain("INSERT INTO "+GuardTable+" (conflict) SELECT 1 WHERE NOT "+held))
	for _, s := range stmts {
		out = append(out, stmt{SQL: onlyIf(s.SQL, held), Args: s.Args})
	}
	return append(out, plain("UPDATE "+WriterTable+" SET token = '"+token+"' WHERE id = 1 AND token = '"+claim+"'"))
}

// onlyIf makes an INSERT, DELETE or UPDATE change nothing unless cond
// holds; other statements are returned as they are.
func onlyIf(sql, cond string) string {
	head := strings.ToUpper(strings.TrimSpace(sql))
	switch {
	case strings.HasPrefix(head, "INSERT INTO "+strings.ToUpper(GuardTable)):
		return sql
	case strings.HasPrefix(head, "INSERT"):
		body, tail := sql, ""
		if loc := conflictRe.FindStringIndex(sql); loc != nil {
			body, tail = sql[:loc[0]], sql[loc[0]:]
		}
		if loc := valuesRe.FindStringIndex(body); loc != nil && !strings.Contains(strings.ToUpper(body[:loc[0]]), "SELECT") {
			return body[:loc[0]] + " SELECT * FROM (VALUES " + body[loc[1]:] + ") WHERE " + cond + tail
		}
		if whereRe.MatchString(body) {
			return body + " AND " + cond + tail
		}
		return body + " WHERE " + cond + tail
	case strings.HasPrefix(head, "DELETE"), strings.HasPrefix(head, "UPDATE"):
		if loc := whereRe.FindStringIndex(sql); loc != nil {
			return sql[:loc[1]] + "(" + sql[loc[1]:] + ") AND " + cond
		}
		return sql + " WHERE " + cond
	}
	return sql
}
