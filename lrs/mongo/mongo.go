// Package mongo is the MongoDB storage engine: it implements every
// persistence contract of the binary on one MongoDB database, using only
// operations that also work without transactions and change streams (a
// single node, a replica set, a sharded cluster, FerretDB, DocumentDB).
//
// Collections and their shard keys (see README, Operations):
//
//	statements   _id "<org>\x00<id>"  shard key {o: 1, _id: 1}
//	credentials  _id "<key>"          shard key {_id: "hashed"}
//	credential_usage _id "<key>"      shard key {_id: "hashed"} (LastUsed)
//	keys         _id "<name>"         (the LRS's own secret keys; one document)
//	organizations _id "<org id>"      (few; unsharded)
//	writes       _id random            (in-flight writes; tiny, unsharded)
//	documents    _id JSON [org, kind, activity, agent, registration, id]
//	document_locks _id as documents  (writes in flight; tiny)
//	activities   _id "<org>\x00<activity id>\x00<version>"  shard key {_id: 1}
//	agents       _id "<org>\x00<ifi key>\x00<name>"         shard key {_id: 1}
//	accounts, sessions, account_tokens, login_failures (identity.go; few, unsharded)
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs"
)

// Options configure the engine.
type Options struct {
	URI      string
	Database string // default "lrs"
	Logger   *slog.Logger
	// Timeout bounds every operation (a safety net on top of request
	// contexts). Default 10s.
	Timeout time.Duration
	// ServerSelectionTimeout is how long an operation waits for a
	// reachable server before it fails with EUNAVAILABLE, so that an
	// unreachable database answers 503 in seconds rather than after
	// Timeout. Default 3s; the URI's serverSelectionTimeoutMS wins.
	ServerSelectionTimeout time.Duration
	// MaxClockSkew is the largest difference allowed between the clocks
	// of the lrs processes sharing the database. Default 1s.
	MaxClockSkew time.Duration
	// ConsistentThroughReuse is how long an answer of ConsistentThrough
	// is given again instead of reading the write intents anew (one round
	// trip less for every statements answer that carries the header). An
	// earlier answer stays a true bound, only older. Zero: never reused.
	ConsistentThroughReuse time.Duration
	// Monitor, when set, sees every command sent to the server (the
	// round trips of each operation are counted with it in tests).
	Monitor *event.CommandMonitor
}

// DB is the MongoDB engine.
type DB struct {
	client      *mongo.Client
	db          *mongo.Database
	statements  *mongo.Collection
	credentials *mongo.Collection
	writes      *mongo.Collection
	logger      *slog.Logger
	timeout     time.Duration
	clock       *Clock
	attemptCap  atomic.Int64 // forward_attempts kept per configuration (forward.go)
}

var (
	_ lrs.Store            = (*DB)(nil)
	_ auth.CredentialStore = (*DB)(nil)
)

// Open connects to MongoDB and creates the indexes. It fails with an
// EUNAVAILABLE error when the server cannot be reached within the timeout.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Database == "" {
		opts.Database = "lrs"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxClockSkew <= 0 {
		opts.MaxClockSkew = time.Second
	}
	if opts.ServerSelectionTimeout <= 0 {
		opts.ServerSelectionTimeout = DefaultServerSelectionTimeout
	}
	// Defaults first, so that the URI's own options (serverSelectionTimeoutMS,
	// connectTimeoutMS) win.
	co := options.Client().
		SetServerSelectionTimeout(opts.ServerSelectionTimeout).
		SetConnectTimeout(defaultConnectTimeout).
		ApplyURI(opts.URI).
		SetTimeout(opts.Timeout).
		SetWriteConcern(writeconcern.Majority()).
		SetAppName("lrs")
	if opts.Monitor != nil {
		co.SetMonitor(opts.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := client.Database(opts.Database)
	d := &DB{
		client:      client,
		db:          db,
		statements:  db.Collection("statements"),
		credentials: db.Collection("credentials"),
		writes:      db.Collection("writes"),
		logger:      opts.Logger,
		timeout:     opts.Timeout,
	}
	d.clock = &Clock{db: d, skew: opts.MaxClockSkew, reuse: opts.ConsistentThroughReuse, now: time.Now}
	if err := d.waitReachable(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	if err := d.createIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return d, nil
}

const (
	// DefaultServerSelectionTimeout bounds how long a request waits for an
	// unreachable database before its 503 (README, Scale-out on MongoDB).
	DefaultServerSelectionTimeout = 3 * time.Second
	// defaultConnectTimeout bounds opening a connection, the monitors'
	// included, so that a silent (black-holed) server is noticed soon.
	defaultConnectTimeout = 5 * time.Second
)

// waitReachable pings until the database answers, for up to the operation
// timeout: at start the database may still be coming up, and one ping
// gives up after the (shorter) server selection timeout.
func (d *DB) waitReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	for {
		err := d.Ping(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Index names are stable, so a later version can find and change them.
func (d *DB) createIndexes(ctx context.Context) error {
	specs := []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		// Every statements query: terms ∧ not voided ∧ stored range,
		// ordered by (stored, id).
		{d.statements, mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "t", Value: 1}, {Key: "v", Value: 1}, {Key: "s", Value: 1}, {Key: "i", Value: 1}},
			Options: options.Index().SetName("org_term_voided_stored_id"),
		}},
		// Referrers: statements targeting a statement by StatementRef.
		{d.statements, mongo.IndexModel{
			Keys:    bson.D{{Key: "o", Value: 1}, {Key: "f", Value: 1}},
			Options: options.Index().SetName("org_ref"),
		}},
		// Consistent-Through: the oldest write in flight.
		{d.writes, mongo.IndexModel{
			Keys:    bson.D{{Key: "at", Value: 1}},
			Options: options.Index().SetName("at"),
		}},
		// Documents: a scope's listing by updated time, and its deletion.
		{d.documentsColl(), documentIndex},
	}
	specs = append(specs, d.forwardIndexes()...)  // forward.go
	specs = append(specs, d.identityIndexes()...) // identity.go
	specs = append(specs, d.resultIndexes()...)   // results.go
	for _, s := range specs {
		if _, err := s.coll.Indexes().CreateOne(ctx, s.model); err != nil {
			return translate(fmt.Errorf("mongo: create index %s: %w", *indexName(s.model), err))
		}
	}
	return d.dropObsoleteIndexes(ctx)
}

// dropObsoleteIndexes drops the indexes of earlier versions that a later
// one replaced (after createIndexes made the replacements), with a log
// line each. A process of the earlier version still running meanwhile
// finds its queries served by the replacement.
func (d *DB) dropObsoleteIndexes(ctx context.Context) error {
	for _, o := range d.obsoleteForwardIndexes() { // forward.go
		specs, err := o.coll.Indexes().ListSpecifications(ctx)
		if err != nil {
			return translate(fmt.Errorf("mongo: list indexes of %s: %w", o.coll.Name(), err))
		}
		for _, sp := range specs {
			if sp.Name != o.name {
				continue
			}
			if err := o.coll.Indexes().DropOne(ctx, o.name); err != nil {
				return translate(fmt.Errorf("mongo: drop index %s: %w", o.name, err))
			}
			d.logger.Info("mongo: dropped an index a later one replaced", "collection", o.coll.Name(), "index", o.name)
		}
	}
	return nil
}

func indexName(m mongo.IndexModel) *string {
	var o options.IndexOptions
	for _, f := range m.Options.List() {
		_ = f(&o)
	}
	if o.Name == nil {
		s := "?"
		return &s
	}
	return o.Name
}

// Clock returns the cross-process Clock the service must use with this
// engine (see Clock).
func (d *DB) Clock() lrs.Clock { return d.clock }

// Ping checks that the primary is reachable.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.client.Ping(ctx, readpref.Primary()); err != nil {
		return translate(fmt.Errorf("mongo: ping: %w", err))
	}
	return nil
}

// Close disconnects. Idempotent.
func (d *DB) Close() error {
	err := d.client.Disconnect(context.Background())
	if errors.Is(err, mongo.ErrClientDisconnected) {
		return nil
	}
	return err
}

// Drop removes the database (tests).
func (d *DB) Drop(ctx context.Context) error { return d.db.Drop(ctx) }

// unavailable is the domain error for a store that cannot be reached.
var unavailable = &lrs.Error{Code: lrs.EUNAVAILABLE, Message: "The store is unreachable; try again later."}

// translate turns driver errors into domain errors: a lost or unreachable
// server is EUNAVAILABLE; everything else is returned as it is. A
// connection pool cleared by another operation's network error is one:
// the operation that meets it after the server went away gets it instead
// of a network error (the driver retries it once, then returns it).
func translate(err error) error {
	if err == nil {
		return nil
	}
	var le *lrs.Error
	if errors.As(err, &le) {
		return err
	}
	var sse mongo.ServerError
	var pool driver.RetryablePoolError
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, mongo.ErrClientDisconnected) || errors.As(err, new(topology.ServerSelectionError)) ||
		(errors.As(err, &pool) && pool.Retryable()) ||
		(errors.As(err, &sse) && (sse.HasErrorLabel("RetryableWriteError") || sse.HasErrorLabel("TransientTransactionError"))) {
		return fmt.Errorf("%w (%v)", unavailable, err)
	}
	return err
}
