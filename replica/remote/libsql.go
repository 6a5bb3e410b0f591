package remote

import "errors"

func newLibSQL(cfg Config) (service, error) { return nil, errors.New("libsql replica: not yet") }
