package pebbledb

import "github.com/lrs-project/lrs/lrs"

// Clock returns nil: one process at a time opens the embedded store, so
// the LRS service's own clock (its default, lrs.LocalClock) keeps
// Consistent-Through honest. An engine shared by many processes returns a
// clock of its own (lrs/mongo).
func (d *DB) Clock() lrs.Clock { return nil }
