package replica

import (
	"context"
	"errors"

	"github.com/litepull/litepull"
)

// Begin is not built yet (issue 12, in progress).
func (r *Replica) Begin(ctx context.Context) (litepull.ReplicaTx, error) {
	return nil, errors.New("replica: Begin is not built yet")
}

// StreamStates is not built yet (issue 12, in progress).
func (r *Replica) StreamStates(ctx context.Context) ([]litepull.StreamState, error) {
	return nil, errors.New("replica: StreamStates is not built yet")
}
