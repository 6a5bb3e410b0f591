package remotetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/litepull/litepull/internal/sqlitetest"
)

// NewLibSQL speaks Hrana over HTTP (GET /v2, POST /v2/pipeline; /v3 only
// with Server.HranaV3) over a SQLite that answers like libSQL's Hrana test server's,
// 3.40.1 (no unhex()): "execute" and "batch" requests, a batch's steps
// run in order on one stream, each under its condition, so BEGIN ...
// COMMIT with conditions is all or nothing.
func NewLibSQL(tb testing.TB) *Server {
	s := newServer(tb, "libsql", func(s *Server) http.Handler { return http.HandlerFunc(s.serveLibSQL) })
	s.DB.EmulateSQLite340(tb)
	return s
}

type hranaStmt struct {
	SQL  string            `json:"sql"`
	Args []json.RawMessage `json:"args"`
}

type hranaCond struct {
	Type string     `json:"type"`
	Step int        `json:"step"`
	Cond *hranaCond `json:"cond"`
}

type hranaStep struct {
	Stmt      hranaStmt  `json:"stmt"`
	Condition *hranaCond `json:"condition"`
}

func (s *Server) serveLibSQL(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+Token {
		sqlitetest.Status(http.StatusUnauthorized, `{"error": "Unauthorized"}`)(w)
		return
	}
	v3 := s.HranaV3
	switch {
	case r.Method == "GET" && (r.URL.Path == "/v2" || v3 && r.URL.Path == "/v3"):
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == "POST" && (r.URL.Path == "/v2/pipeline" || v3 && r.URL.Path == "/v3/pipeline"):
	default:
		http.NotFound(w, r)
		return
	}
	if s.Faults.Take(w) {
		return
	}
	var req struct {
		Requests []struct {
			Type  string     `json:"type"`
			Stmt  *hranaStmt `json:"stmt"`
			Batch *struct {
				Steps []hranaStep `json:"steps"`
			} `json:"batch"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		sqlitetest.Status(http.StatusBadRequest, `{"error": "bad request"}`)(w)
		return
	}
	results := []any{}
	wrote := false
	for _, rq := range req.Requests {
		switch {
		case rq.Type == "close":
			results = append(results, map[string]any{"type": "ok", "response": map[string]any{"type": "close"}})
		case rq.Type == "execute" && rq.Stmt != nil:
			res, err := s.hranaExec(s.DB.Query, *rq.Stmt)
			if err != nil {
				results = append(results, hranaErr(err))
				continue
			}
			results = append(results, map[string]any{"type": "ok", "response": map[string]any{"type": "execute", "result": res}})
		case rq.Type == "batch" && rq.Batch != nil:
			if s.writeFault(w) {
				return
			}
			out, err := s.hranaBatch(rq.Batch.Steps)
			if errors.Is(err, errCut) {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			wrote = true
			results = append(results, map[string]any{"type": "ok", "response": map[string]any{"type": "batch", "result": out}})
		default:
			results = append(results, hranaErr(errors.New("unknown request "+rq.Type)))
		}
	}
	if wrote && s.Lost.Take(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"baton": nil, "base_url": nil, "results": results})
}

// hranaBatch runs steps on one stream under their conditions.
func (s *Server) hranaBatch(steps []hranaStep) (map[string]any, error) {
	var stmts []statement
	for _, st := range steps {
		stmts = append(stmts, statement{SQL: st.Stmt.SQL})
	}
	cut := s.takeCut(stmts)
	res := make([]any, len(steps))
	errs := make([]any, len(steps))
	ok := make([]bool, len(steps))
	err := s.DB.Session(func(query func(string, []any) (*sqlitetest.Result, error)) error {
		for i, st := range steps {
			if cut > 0 && i == cut {
				return errCut // the stream dies; its open transaction is rolled back
			}
			if st.Condition != nil && !hranaEval(st.Condition, ok, errs) {
				continue
			}
			r, err := s.hranaExec(query, st.Stmt)
			if err != nil {
				errs[i] = map[string]any{"message": err.Error(), "code": "SQLITE_ERROR"}
				continue
			}
			res[i], ok[i] = r, true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	failed := false
	for _, e := range errs {
		failed = failed || e != nil
	}
	if !failed {
		s.wrote(len(steps))
	}
	return map[string]any{"step_results": res, "step_errors": errs}, nil
}

func hranaEval(c *hranaCond, ok []bool, errs []any) bool {
	switch c.Type {
	case "ok":
		return c.Step < len(ok) && ok[c.Step]
	case "error":
		return c.Step < len(errs) && errs[c.Step] != nil
	case "not":
		return c.Cond != nil && !hranaEval(c.Cond, ok, errs)
	}
	return false
}

func hranaErr(err error) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"message": err.Error(), "code": "SQLITE_ERROR"}}
}

func (s *Server) hranaExec(query func(string, []any) (*sqlitetest.Result, error), st hranaStmt) (map[string]any, error) {
	args, err := hranaArgs(st.Args)
	if err != nil {
		return nil, err
	}
	res, err := s.run(query, statement{SQL: st.SQL, Params: args})
	if err != nil {
		return nil, err
	}
	cols := make([]map[string]any, len(res.Columns))
	for i, c := range res.Columns {
		cols[i] = map[string]any{"name": c, "decltype": res.DeclType[i]}
	}
	rows := make([][]map[string]any, len(res.Rows))
	for i, r := range res.Rows {
		rows[i] = make([]map[string]any, len(r))
		for j, v := range r {
			rows[i][j] = hranaValue(v)
		}
	}
	return map[string]any{"cols": cols, "rows": rows, "affected_row_count": 0, "last_insert_rowid": nil}, nil
}

func hranaValue(v any) map[string]any {
	switch v := v.(type) {
	case int64:
		return map[string]any{"type": "integer", "value": strconv.FormatInt(v, 10)}
	case float64:
		return map[string]any{"type": "float", "value": v}
	case string:
		return map[string]any{"type": "text", "value": v}
	case []byte:
		return map[string]any{"type": "blob", "base64": base64.StdEncoding.EncodeToString(v)}
	}
	return map[string]any{"type": "null"}
}

func hranaArgs(raw []json.RawMessage) ([]any, error) {
	out := make([]any, len(raw))
	for i, r := range raw {
		var v struct {
			Type   string          `json:"type"`
			Value  json.RawMessage `json:"value"`
			Base64 string          `json:"base64"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, err
		}
		var err error
		switch v.Type {
		case "null":
		case "integer":
			var s string
			if err = json.Unmarshal(v.Value, &s); err == nil {
				out[i], err = strconv.ParseInt(s, 10, 64)
			}
		case "float":
			var f float64
			err = json.Unmarshal(v.Value, &f)
			out[i] = f
		case "text":
			var s string
			err = json.Unmarshal(v.Value, &s)
			out[i] = s
		case "blob":
			out[i], err = base64.StdEncoding.DecodeString(v.Base64)
		default:
			err = errors.New("unknown value type " + v.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
