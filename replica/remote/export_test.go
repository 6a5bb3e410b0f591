package remote

import "time"

func init() { writeBackoff = time.Millisecond }
