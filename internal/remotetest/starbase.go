package remotetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/litepull/litepull/internal/sqlitetest"
)

// NewStarbase serves StarbaseDB's POST /query/raw: {"sql", "params"}, or
// {"transaction": [...]}, which StarbaseDB runs as one Durable Object call
// per statement, each committing on its own, stopping at the first error
// (500 {"error"}), earlier statements kept. Values come back as plain
// JSON (integers as numbers, BLOBs as {}), rows pass through JavaScript
// objects, and the Durable Object's limits are enforced.
func NewStarbase(tb testing.TB) *Server {
	return newServer(tb, "starbase", func(s *Server) http.Handler { return http.HandlerFunc(s.serveStarbase) })
}

func (s *Server) serveStarbase(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/query/raw" {
		sqlitetest.Status(http.StatusNotFound, `{"error": "Not found"}`)(w)
		return
	}
	if s.Faults.Take(w) {
		return
	}
	switch r.Header.Get("Authorization") {
	case "Bearer " + Token:
	case "":
		sqlitetest.Status(http.StatusUnauthorized, `{"error": "Unauthorized request"}`)(w)
		return
	default:
		sqlitetest.Status(http.StatusBadRequest, `{"error": "Unauthorized request"}`)(w)
		return
	}
	if !strings.Contains(r.Header.Get("Content-Type"), "application/json") {
		sqlitetest.Status(http.StatusBadRequest, `{"error": "Content-Type must be application/json."}`)(w)
		return
	}
	var body struct {
		statement
		Transaction []statement `json:"transaction"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		// StarbaseDB answers with JSON.parse's message, as a 500.
		sqlitetest.Status(http.StatusInternalServerError, `{"error": "Unexpected end of JSON input"}`)(w)
		return
	}
	if len(body.Transaction) == 0 {
		res, err := s.run(s.DB.Query, body.statement)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		result := starbaseResult(res)
		if err := s.rpcFits(result); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": result})
		return
	}
	if s.writeFault(w) {
		return
	}
	cut := s.takeCut(body.Transaction)
	var results []any
	for i, st := range body.Transaction {
		if cut > 0 && i == cut {
			w.WriteHeader(http.StatusInternalServerError) // the Durable Object was reset
			return
		}
		s.wait(st)
		res, err := s.run(s.DB.Query, st)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		results = append(results, starbaseResult(res))
	}
	s.wrote(len(body.Transaction))
	if s.Lost.Take(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": results})
}

func starbaseResult(res *sqlitetest.Result) map[string]any {
	cols, rows := asObjects(res.Columns, sqlitetest.JSRows(res.Rows, func([]byte) any { return map[string]any{} }))
	if len(rows) == 0 {
		cols = []string{}
	}
	return map[string]any{"columns": cols, "rows": rows, "meta": map[string]any{"rows_read": len(rows), "rows_written": 0}}
}

// StarbaseRPCBytes is the largest answer of one statement a Durable
// Object's RPC passes to StarbaseDB's worker (32 MiB, measured on workerd).
const StarbaseRPCBytes = 32 << 20

// rpcFits fails a statement's result larger than the server's RPCBytes
// (StarbaseRPCBytes unless set) as StarbaseDB does.
func (s *Server) rpcFits(result any) error {
	limit := s.RPCBytes
	if limit == 0 {
		limit = StarbaseRPCBytes
	}
	data, _ := json.Marshal(result)
	if len(data) > limit {
		return fmt.Errorf("Serialized RPC arguments or return values are limited to 32MiB, but the size of this value was: %d bytes.", len(data))
	}
	return nil
}
