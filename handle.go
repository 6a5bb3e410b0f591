package litepull

import "context"

// Described returns schema and its Handle as the source's handle type H,
// describing the table afresh with describe when schema has none (built by
// hand): then the fresh schema, whose columns are the ones its handle was
// made for.
func Described[H any](ctx context.Context, schema *TableSchema, describe func(context.Context, string) (*TableSchema, error)) (*TableSchema, H, error) {
	if h, ok := schema.Handle.(H); ok {
		return schema, h, nil
	}
	fresh, err := describe(ctx, schema.Name)
	if err != nil {
		var none H
		return nil, none, err
	}
	return fresh, fresh.Handle.(H), nil
}
