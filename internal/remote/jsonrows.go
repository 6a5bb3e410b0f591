package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeJSON decodes a response body keeping numbers as json.Number, so
// that no digit is lost before the source looks at it.
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed response: %w", err)
	}
	return nil
}

// RawResult is the {"columns": [...], "rows": [[...]]} shape D1's /raw and
// StarbaseDB's /query/raw share.
type RawResult struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}
