package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// store is every contract the binary uses of a storage engine: the LRS's
// (statements, activities, agents, documents, attachment bodies), the
// credentials and organizations, and forwarding's; both engines implement
// all of it, checked here at compile time.
type store interface {
	lrs.Store
	lrs.ActivityStore
	lrs.AgentStore
	lrs.DocumentStore
	lrs.AttachmentStore
	lrs.StatementCountStore
	auth.CredentialStore
	auth.KeyStore
	auth.AdminStore
	forward.Store
	// Clock is the clock that keeps Consistent-Through honest across the
	// processes sharing the store; nil for a store one process owns (the
	// service then keeps its own).
	Clock() lrs.Clock
}

var (
	_ store = (*pebbledb.DB)(nil)
	_ store = (*mongo.DB)(nil)
)

// openStore opens MongoDB when LRS_MONGODB_URI is set, else the embedded
// store (Pebble) in cfg.DataDir, creating the directory if needed.
func openStore(cfg Config, logger *slog.Logger) (store, error) {
	if cfg.MongoURI != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := mongo.Open(ctx, mongo.Options{
			URI:      string(cfg.MongoURI),
			Database: cfg.MongoDatabase,
			Logger:   logger.With("component", "mongo"),
			// Statements answers carry Consistent-Through: a second-old
			// answer is still true and saves each a round trip.
			ConsistentThroughReuse: time.Second,
		})
		if err != nil {
			return nil, fmt.Errorf("MongoDB (database %s): %w", cfg.MongoDatabase, err)
		}
		return db, nil
	}
	db, err := pebbledb.Open(cfg.DataDir, pebbledb.Options{Logger: logger.With("component", "pebble")})
	if err != nil {
		return nil, err
	}
	return db, nil
}
