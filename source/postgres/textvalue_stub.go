package postgres

import "github.com/litepull/litepull"

// textValue decodes one value of the column as the replication stream
// sends it: its type's text output, in the stream's session settings.
//
// Placeholder, deleted at merge: the per-type text decoders replace it.
// Until then every value is its text.
func (c codec) textValue(raw []byte) (litepull.Value, error) { return string(raw), nil }
