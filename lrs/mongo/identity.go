package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lrs-project/lrs/auth"
)

// Accounts, sessions, mailed tokens and sign-in failures:
//
//	accounts        _id account id, unique index on email
//	sessions        _id the session hash (binary), index on account
//	account_tokens  _id the token hash (binary), kind
//	login_failures  _id the normalized email
//
// Each change is one single-document write: a session is never rewritten
// but by TouchSession ($max on last_seen, no upsert, so a touch racing a
// sign-out cannot bring the session back), and a token is consumed by the one
// delete that removes it, so that exactly one of any number of concurrent
// uses wins, on any number of processes.

var _ auth.IdentityStore = (*DB)(nil)

type accountDoc struct {
	ID           string    `bson:"_id"`
	Email        string    `bson:"email"`
	Name         string    `bson:"name,omitempty"`
	Role         string    `bson:"role"`
	Org          string    `bson:"org,omitempty"`
	PasswordHash string    `bson:"password,omitempty"`
	Disabled     bool      `bson:"disabled,omitempty"`
	CreatedAt    time.Time `bson:"created"`
	UpdatedAt    time.Time `bson:"updated"`
}

func (doc accountDoc) account() auth.Account {
	return auth.Account{ID: doc.ID, Email: doc.Email, Name: doc.Name, Role: auth.Role(doc.Role), Org: doc.Org,
		PasswordHash: doc.PasswordHash, Disabled: doc.Disabled, CreatedAt: doc.CreatedAt.UTC(), UpdatedAt: doc.UpdatedAt.UTC()}
}

type sessionDoc struct {
	Hash      []byte    `bson:"_id"`
	AccountID string    `bson:"account"`
	Method    string    `bson:"method,omitempty"`
	Client    string    `bson:"client,omitempty"`
	CreatedAt time.Time `bson:"created"`
	LastSeen  time.Time `bson:"last_seen"`
	ExpiresAt time.Time `bson:"expires"`
}

type tokenDoc struct {
	Hash      []byte    `bson:"_id"`
	Kind      string    `bson:"kind"`
	Email     string    `bson:"email"`
	Name      string    `bson:"name,omitempty"`
	Role      string    `bson:"role,omitempty"`
	Org       string    `bson:"org,omitempty"`
	AccountID string    `bson:"account,omitempty"`
	CreatedBy string    `bson:"created_by,omitempty"`
	CreatedAt time.Time `bson:"created"`
	ExpiresAt time.Time `bson:"expires"`
}

func (doc tokenDoc) token() auth.AccountToken {
	return auth.AccountToken{Hash: doc.Hash, Kind: doc.Kind, Email: doc.Email, Name: doc.Name, Role: auth.Role(doc.Role),
		Org: doc.Org, AccountID: doc.AccountID, CreatedBy: doc.CreatedBy, CreatedAt: doc.CreatedAt.UTC(), ExpiresAt: doc.ExpiresAt.UTC()}
}

type failureDoc struct {
	Key   string    `bson:"_id"`
	N     int       `bson:"n"`
	First time.Time `bson:"first"`
	Last  time.Time `bson:"last"`
}

func (d *DB) accounts() *mongo.Collection      { return d.db.Collection("accounts") }
func (d *DB) sessions() *mongo.Collection      { return d.db.Collection("sessions") }
func (d *DB) accountTokens() *mongo.Collection { return d.db.Collection("account_tokens") }
func (d *DB) loginFailures() *mongo.Collection { return d.db.Collection("login_failures") }

// identityIndexes are created at Open.
func (d *DB) identityIndexes() []struct {
	coll  *mongo.Collection
	model mongo.IndexModel
} {
	return []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		{d.accounts(), mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetName("email").SetUnique(true)}},
		{d.sessions(), mongo.IndexModel{Keys: bson.D{{Key: "account", Value: 1}}, Options: options.Index().SetName("account")}},
		{d.sessions(), mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetName("expires")}},
		{d.accountTokens(), mongo.IndexModel{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "created", Value: 1}}, Options: options.Index().SetName("kind_created")}},
		{d.loginFailures(), mongo.IndexModel{Keys: bson.D{{Key: "last", Value: 1}}, Options: options.Index().SetName("last")}},
	}
}

func id(v any) bson.D { return bson.D{{Key: "_id", Value: v}} }

// CreateAccount stores a; auth.ErrAccountTaken or auth.ErrEmailTaken.
func (d *DB) CreateAccount(ctx context.Context, a auth.Account) error {
	_, err := d.accounts().InsertOne(ctx, accountDoc{ID: a.ID, Email: a.Email, Name: a.Name, Role: string(a.Role), Org: a.Org,
		PasswordHash: a.PasswordHash, Disabled: a.Disabled, CreatedAt: msOrZero(a.CreatedAt), UpdatedAt: msOrZero(a.UpdatedAt)})
	if mongo.IsDuplicateKeyError(err) {
		// Which key: the id is random, so a taken one is rare; ask.
		if n, cerr := d.accounts().CountDocuments(ctx, id(a.ID)); cerr == nil && n > 0 {
			return auth.ErrAccountTaken
		}
		return auth.ErrEmailTaken
	}
	if err != nil {
		return translate(fmt.Errorf("mongo: create account: %w", err))
	}
	return nil
}

func (d *DB) findAccount(ctx context.Context, filter bson.D) (auth.Account, error) {
	var doc accountDoc
	err := d.accounts().FindOne(ctx, filter).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.Account{}, auth.ErrAccountNotFound
	}
	if err != nil {
		return auth.Account{}, translate(fmt.Errorf("mongo: get account: %w", err))
	}
	return doc.account(), nil
}

// GetAccount returns an account; auth.ErrAccountNotFound if none.
func (d *DB) GetAccount(ctx context.Context, accountID string) (auth.Account, error) {
	return d.findAccount(ctx, id(accountID))
}

// GetAccountByEmail returns the account with the email.
func (d *DB) GetAccountByEmail(ctx context.Context, email string) (auth.Account, error) {
	return d.findAccount(ctx, bson.D{{Key: "email", Value: email}})
}

// ListAccounts returns the accounts ordered by email.
func (d *DB) ListAccounts(ctx context.Context) ([]auth.Account, error) {
	cur, err := d.accounts().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "email", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list accounts: %w", err))
	}
	var docs []accountDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: list accounts: %w", err))
	}
	out := make([]auth.Account, len(docs))
	for i, doc := range docs {
		out[i] = doc.account()
	}
	return out, nil
}

// UpdateAccount applies u; auth.ErrAccountNotFound if none.
func (d *DB) UpdateAccount(ctx context.Context, accountID string, u auth.AccountUpdate) (auth.Account, error) {
	set, unset := bson.D{}, bson.D{}
	str := func(field string, v *string) {
		switch {
		case v == nil:
		case *v == "":
			unset = append(unset, bson.E{Key: field, Value: ""})
		default:
			set = append(set, bson.E{Key: field, Value: *v})
		}
	}
	str("name", u.Name)
	if u.Role != nil {
		set = append(set, bson.E{Key: "role", Value: string(*u.Role)})
	}
	str("org", u.Org)
	str("password", u.PasswordHash)
	if u.Disabled != nil {
		set = append(set, bson.E{Key: "disabled", Value: *u.Disabled})
	}
	if !u.UpdatedAt.IsZero() {
		set = append(set, bson.E{Key: "updated", Value: msOrZero(u.UpdatedAt)})
	}
	upd := bson.D{}
	if len(set) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	if len(upd) == 0 {
		return d.GetAccount(ctx, accountID)
	}
	var doc accountDoc
	err := d.accounts().FindOneAndUpdate(ctx, id(accountID), upd, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.Account{}, auth.ErrAccountNotFound
	}
	if err != nil {
		return auth.Account{}, translate(fmt.Errorf("mongo: update account: %w", err))
	}
	return doc.account(), nil
}

// DeleteAccount removes an account; auth.ErrAccountNotFound if none.
func (d *DB) DeleteAccount(ctx context.Context, accountID string) error {
	res, err := d.accounts().DeleteOne(ctx, id(accountID))
	if err != nil {
		return translate(fmt.Errorf("mongo: delete account: %w", err))
	}
	if res.DeletedCount == 0 {
		return auth.ErrAccountNotFound
	}
	return nil
}

// ---- sessions ----

// CreateSession stores s.
func (d *DB) CreateSession(ctx context.Context, s auth.Session) error {
	_, err := d.sessions().InsertOne(ctx, sessionDoc{Hash: s.Hash, AccountID: s.AccountID, Method: s.Method, Client: s.Client,
		CreatedAt: msOrZero(s.CreatedAt), LastSeen: msOrZero(s.LastSeen), ExpiresAt: msOrZero(s.ExpiresAt)})
	if err != nil {
		return translate(fmt.Errorf("mongo: create session: %w", err))
	}
	return nil
}

// GetSession returns a session; auth.ErrSessionNotFound if none.
func (d *DB) GetSession(ctx context.Context, hash []byte) (auth.Session, error) {
	var doc sessionDoc
	err := d.sessions().FindOne(ctx, id(hash)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	if err != nil {
		return auth.Session{}, translate(fmt.Errorf("mongo: get session: %w", err))
	}
	return auth.Session{Hash: doc.Hash, AccountID: doc.AccountID, Method: doc.Method, Client: doc.Client,
		CreatedAt: doc.CreatedAt.UTC(), LastSeen: doc.LastSeen.UTC(), ExpiresAt: doc.ExpiresAt.UTC()}, nil
}

// TouchSession moves LastSeen forward; a missing session is not created.
func (d *DB) TouchSession(ctx context.Context, hash []byte, t time.Time) error {
	_, err := d.sessions().UpdateOne(ctx, id(hash), bson.D{{Key: "$max", Value: bson.D{{Key: "last_seen", Value: msOrZero(t)}}}})
	if err != nil {
		return translate(fmt.Errorf("mongo: touch session: %w", err))
	}
	return nil
}

// DeleteSession removes a session; a missing one is not an error.
func (d *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := d.sessions().DeleteOne(ctx, id(hash)); err != nil {
		return translate(fmt.Errorf("mongo: delete session: %w", err))
	}
	return nil
}

// DeleteAccountSessions removes every session of the account.
func (d *DB) DeleteAccountSessions(ctx context.Context, accountID string) (int, error) {
	res, err := d.sessions().DeleteMany(ctx, bson.D{{Key: "account", Value: accountID}})
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: delete account sessions: %w", err))
	}
	return int(res.DeletedCount), nil
}

// DeleteExpiredSessions removes the sessions expired at now or idle since
// before idleBefore.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := d.sessions().DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires", Value: bson.D{{Key: "$lte", Value: now.UTC()}}}},
		bson.D{{Key: "last_seen", Value: bson.D{{Key: "$lt", Value: idleBefore.UTC()}}}},
	}}})
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: delete expired sessions: %w", err))
	}
	return int(res.DeletedCount), nil
}

// ---- mailed tokens ----

func tokenFilter(kind string, hash []byte) bson.D {
	return bson.D{{Key: "_id", Value: hash}, {Key: "kind", Value: kind}}
}

// CreateAccountToken stores t.
func (d *DB) CreateAccountToken(ctx context.Context, t auth.AccountToken) error {
	_, err := d.accountTokens().InsertOne(ctx, tokenDoc{Hash: t.Hash, Kind: t.Kind, Email: t.Email, Name: t.Name, Role: string(t.Role),
		Org: t.Org, AccountID: t.AccountID, CreatedBy: t.CreatedBy, CreatedAt: msOrZero(t.CreatedAt), ExpiresAt: msOrZero(t.ExpiresAt)})
	if err != nil {
		return translate(fmt.Errorf("mongo: create account token: %w", err))
	}
	return nil
}

// ConsumeAccountToken removes and returns a token; auth.ErrTokenNotFound.
// The token is read, then deleted: the one caller whose delete removed it
// wins (findOneAndDelete is not atomic on every MongoDB-compatible server;
// a single-document delete's count is).
func (d *DB) ConsumeAccountToken(ctx context.Context, kind string, hash []byte) (auth.AccountToken, error) {
	var doc tokenDoc
	err := d.accountTokens().FindOne(ctx, tokenFilter(kind, hash)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return auth.AccountToken{}, auth.ErrTokenNotFound
	}
	if err != nil {
		return auth.AccountToken{}, translate(fmt.Errorf("mongo: consume account token: %w", err))
	}
	res, err := d.accountTokens().DeleteOne(ctx, tokenFilter(kind, hash))
	if err != nil {
		return auth.AccountToken{}, translate(fmt.Errorf("mongo: consume account token: %w", err))
	}
	if res.DeletedCount == 0 { // another use won
		return auth.AccountToken{}, auth.ErrTokenNotFound
	}
	return doc.token(), nil
}

// ListAccountTokens returns the tokens of the kind ordered by CreatedAt.
func (d *DB) ListAccountTokens(ctx context.Context, kind string) ([]auth.AccountToken, error) {
	cur, err := d.accountTokens().Find(ctx, bson.D{{Key: "kind", Value: kind}},
		options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, translate(fmt.Errorf("mongo: list account tokens: %w", err))
	}
	var docs []tokenDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate(fmt.Errorf("mongo: list account tokens: %w", err))
	}
	out := make([]auth.AccountToken, len(docs))
	for i, doc := range docs {
		out[i] = doc.token()
	}
	return out, nil
}

// DeleteAccountToken removes a token; auth.ErrTokenNotFound if none.
func (d *DB) DeleteAccountToken(ctx context.Context, kind string, hash []byte) error {
	res, err := d.accountTokens().DeleteOne(ctx, tokenFilter(kind, hash))
	if err != nil {
		return translate(fmt.Errorf("mongo: delete account token: %w", err))
	}
	if res.DeletedCount == 0 {
		return auth.ErrTokenNotFound
	}
	return nil
}

// DeleteExpiredAccountTokens removes the tokens expired at now.
func (d *DB) DeleteExpiredAccountTokens(ctx context.Context, now time.Time) (int, error) {
	res, err := d.accountTokens().DeleteMany(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$lte", Value: now.UTC()}}}})
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: delete expired account tokens: %w", err))
	}
	return int(res.DeletedCount), nil
}

// ---- sign-in failures ----

// AddLoginFailure counts a failure of key at at: an $inc of a count whose
// last failure is within window, else a restart at 1.
func (d *DB) AddLoginFailure(ctx context.Context, key string, at time.Time, window time.Duration) (int, error) {
	at = msOrZero(at)
	var doc failureDoc
	err := d.loginFailures().FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "last", Value: bson.D{{Key: "$gt", Value: at.Add(-window)}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}, {Key: "$max", Value: bson.D{{Key: "last", Value: at}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err == nil {
		return doc.N, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, translate(fmt.Errorf("mongo: add login failure: %w", err))
	}
	restart := func() error {
		_, err := d.loginFailures().UpdateOne(ctx, id(key),
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 1}, {Key: "first", Value: at}, {Key: "last", Value: at}}}},
			options.UpdateOne().SetUpsert(true))
		return err
	}
	err = restart()
	if mongo.IsDuplicateKeyError(err) { // a concurrent first failure inserted it
		err = restart()
	}
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: add login failure: %w", err))
	}
	return 1, nil
}

// LoginFailures returns the failure count and last failure of key.
func (d *DB) LoginFailures(ctx context.Context, key string) (int, time.Time, error) {
	var doc failureDoc
	err := d.loginFailures().FindOne(ctx, id(key)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, translate(fmt.Errorf("mongo: login failures: %w", err))
	}
	return doc.N, doc.Last.UTC(), nil
}

// ResetLoginFailures forgets the failures of key.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := d.loginFailures().DeleteOne(ctx, id(key)); err != nil {
		return translate(fmt.Errorf("mongo: reset login failures: %w", err))
	}
	return nil
}

// DeleteLoginFailuresBefore forgets the keys whose last failure is before t.
func (d *DB) DeleteLoginFailuresBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := d.loginFailures().DeleteMany(ctx, bson.D{{Key: "last", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}})
	if err != nil {
		return 0, translate(fmt.Errorf("mongo: delete login failures: %w", err))
	}
	return int(res.DeletedCount), nil
}
