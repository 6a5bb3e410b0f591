package remotetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/litepull/litepull/internal/sqlitetest"
)

// D1Base is the path the D1 server serves under (a test's URL is
// Server.URL + D1Base, like Cloudflare's API root).
const D1Base = "/client/v4"

// D1Account and D1Database name the one database the D1 server serves.
const (
	D1Account  = "0123456789abcdef"
	D1Database = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
)

// NewD1 serves Cloudflare D1's REST API for D1Account and D1Database:
// POST /raw with one statement, POST /query with {"batch": [...]}, which
// D1 runs all or nothing. Values come back as D1's JSON (integers as
// numbers, BLOBs as arrays of bytes), JSON numbers are bound as integers
// when whole, and D1's limits are enforced.
func NewD1(tb testing.TB) *Server {
	s := newServer(tb, "d1", func(s *Server) http.Handler { return http.HandlerFunc(s.serveD1) })
	s.URL += D1Base
	return s
}

func d1Error(w http.ResponseWriter, code, cfCode int, msg string) {
	writeJSON(w, code, map[string]any{"result": []any{}, "success": false, "messages": []any{},
		"errors": []any{map[string]any{"code": cfCode, "message": msg}}})
}

func (s *Server) serveD1(w http.ResponseWriter, r *http.Request) {
	const db = D1Base + "/accounts/" + D1Account + "/d1/database/" + D1Database + "/"
	endpoint, ok := strings.CutPrefix(r.URL.Path, db)
	if r.Method != "POST" || !ok || (endpoint != "raw" && endpoint != "query") {
		d1Error(w, http.StatusNotFound, 7404, "not found")
		return
	}
	if s.Faults.Take(w) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		d1Error(w, http.StatusForbidden, 10000, "Authentication error")
		return
	}
	var body struct {
		statement
		Batch []statement `json:"batch"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		d1Error(w, http.StatusBadRequest, 7400, "bad JSON")
		return
	}
	stmts := body.Batch
	if len(stmts) == 0 {
		stmts = []statement{body.statement}
	}
	if lim := s.limits; lim.Statements > 0 && len(stmts) > lim.Statements {
		d1Error(w, http.StatusBadRequest, 7500, "Too many API requests by single worker invocation")
		return
	}
	if len(body.Batch) > 0 && s.writeFault(w) {
		return
	}
	cut := 0
	if len(body.Batch) > 0 {
		cut = s.takeCut(stmts)
	}
	var results []any
	err := s.DB.Atomic(func(query func(string, []any) (*sqlitetest.Result, error)) error {
		for i, st := range stmts {
			if cut > 0 && i == cut {
				return errCut
			}
			res, err := s.run(query, statement{SQL: st.SQL, Params: d1Args(st.Params)})
			if err != nil {
				return err
			}
			results = append(results, d1Result(res, endpoint == "raw"))
		}
		return nil
	})
	switch {
	case err == errCut:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case err != nil:
		d1Error(w, http.StatusBadRequest, 7500, err.Error()+": SQLITE_ERROR")
		return
	}
	if len(body.Batch) > 0 {
		s.wrote(len(stmts))
		if s.Lost.Take(w) {
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": results})
}

// d1Args binds JSON numbers as D1 does: whole ones as integers.
func d1Args(params []any) []any {
	args := make([]any, len(params))
	for i, p := range params {
		if n, ok := p.(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				args[i] = v
			} else {
				args[i], _ = n.Float64()
			}
			continue
		}
		args[i] = p
	}
	return args
}

func d1Result(res *sqlitetest.Result, raw bool) map[string]any {
	rows := sqlitetest.JSRows(res.Rows, func(b []byte) any {
		arr := make([]int, len(b))
		for k, c := range b {
			arr[k] = int(c)
		}
		return arr
	})
	cols := res.Columns
	if cols == nil {
		cols = []string{}
	}
	out := map[string]any{"success": true, "meta": map[string]any{"duration": 0.1, "rows_read": len(rows)}}
	if raw {
		out["results"] = map[string]any{"columns": cols, "rows": rows}
	} else {
		objs := make([]map[string]any, len(rows))
		for i, row := range rows {
			objs[i] = map[string]any{}
			for j, c := range cols {
				objs[i][c] = row[j]
			}
		}
		out["results"] = objs
	}
	return out
}
