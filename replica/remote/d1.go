package remote

import "errors"

func newD1(cfg Config) (service, error) { return nil, errors.New("d1 replica: not yet") }

func newLibSQL(cfg Config) (service, error) { return nil, errors.New("libsql replica: not yet") }
