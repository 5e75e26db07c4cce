package main

import (
	"log/slog"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
	pebbledb "github.com/lrs-project/lrs/lrs/pebbledb"
)

// store is what the binary needs of a storage engine: the LRS contracts and
// the credentials.
type store interface {
	lrs.Store
	auth.CredentialStore
}

var _ store = (*pebbledb.DB)(nil)

// openStore opens the embedded store (Pebble) in cfg.DataDir, creating the
// directory if needed.
func openStore(cfg Config, logger *slog.Logger) (store, error) {
	db, err := pebbledb.Open(cfg.DataDir, pebbledb.Options{Logger: logger.With("component", "pebble")})
	if err != nil {
		return nil, err
	}
	return db, nil
}
