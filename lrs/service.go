package lrs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/schema"
)

// Writer is who writes statements: the organization and the authority
// (Agent or Group JSON) that the LRS records on every statement it stores.
type Writer struct {
	Org       string
	Authority []byte
}

// Query is a statements query, as parsed from GET /statements parameters.
// Agent is an IFI key from schema.AgentKey. Format and Attachments are not
// used by the service; they travel inside the more token so that every page
// of a query is rendered alike.
type Query struct {
	Agent             string    `json:"ag,omitempty"`
	Verb              string    `json:"vb,omitempty"`
	Activity          string    `json:"ac,omitempty"`
	Registration      string    `json:"rg,omitempty"`
	RelatedActivities bool      `json:"ra,omitempty"`
	RelatedAgents     bool      `json:"rp,omitempty"`
	Since             time.Time `json:"si,omitzero"`
	Until             time.Time `json:"un,omitzero"`
	Limit             int       `json:"li,omitempty"` // 0: the server's maximum
	Ascending         bool      `json:"as,omitempty"`
	Format            string    `json:"fm,omitempty"`
	Attachments       bool      `json:"at,omitempty"`
	// Authority, when set (an AuthorityKey), keeps only the statements
	// stored with that authority (the statements/read/mine scope).
	Authority string `json:"au,omitempty"`
}

// Page is one page of a statements query.
type Page struct {
	// Statements are stored statements in format=exact, in query order.
	Statements [][]byte
	// LastStored is the latest stored time among Statements (zero if none).
	LastStored time.Time
	// More is an opaque token that continues the query, or "" at the end.
	More string
	// Query is the query this page answers (decoded from the token for a
	// continued query).
	Query Query
}

// ServiceOptions tunes a Service.
type ServiceOptions struct {
	// MaxLimit caps a query's page size; limit=0 means MaxLimit. Default 100.
	MaxLimit int
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Metrics may be nil.
	Metrics *Metrics
	// Clock hands out stored times and tells what is consistent. Default: an
	// in-process clock, right when this process is the only writer. An
	// engine shared by many processes provides its own.
	Clock Clock
	// Activities and Agents keep canonical activity definitions and agent
	// names (activities_service.go); nil leaves them unrecorded.
	Activities ActivityStore
	Agents     AgentStore
	// Attachments keeps attachment bodies. Default: the store, when it
	// implements AttachmentStore (every engine does).
	Attachments AttachmentStore
	// Observer learns of every statement stored (and repeated) before
	// PostStatements returns (observer.go); nil for none.
	Observer StatementObserver
	// Counts keeps the statements stored per organization and day
	// (counts.go); nil: they are not counted.
	Counts StatementCountStore
}

// Clock hands out stored times and tracks the writes in flight, so that
// X-Experience-API-Consistent-Through never passes a statement that is not
// yet visible to every query.
type Clock interface {
	// Begin returns the stored time for a write and a func to call once the
	// write is visible (or abandoned). Stored times never go backwards.
	Begin(ctx context.Context) (stored time.Time, done func(), err error)
	// ConsistentThrough returns a time at or after which every statement
	// still being written, or written later, will be stored.
	ConsistentThrough(ctx context.Context) (time.Time, error)
}

// Service implements the xAPI statement semantics over a Store.
type Service struct {
	store    Store
	maxLimit int
	metrics  *Metrics
	clock    Clock
	now      func() time.Time

	activities ActivityStore
	agents     AgentStore
	// What this process recorded: the fingerprint of the definition last
	// merged per activity, and the agent names added.
	recordedDefs  *recentMap[uint64]
	recordedNames *recentMap[struct{}]
	// authorityKeys remembers the AuthorityKey of the credentials' authority
	// JSON (a JSON round trip each): a request has one.
	authorityKeys *recentMap[string]

	attachments AttachmentStore
	observer    StatementObserver
	counts      StatementCountStore
}

// NewService returns a Service over store.
func NewService(store Store, opts ServiceOptions) *Service {
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Clock == nil {
		opts.Clock = NewLocalClock(opts.Now)
	}
	if opts.Attachments == nil {
		opts.Attachments, _ = store.(AttachmentStore)
	}
	return &Service{
		store:    InstrumentStore(store, opts.Metrics),
		maxLimit: opts.MaxLimit,
		metrics:  opts.Metrics,
		clock:    opts.Clock,
		now:      opts.Now,

		activities:    opts.Activities,
		agents:        opts.Agents,
		recordedDefs:  newRecentMap[uint64](100_000),
		recordedNames: newRecentMap[struct{}](100_000),
		authorityKeys: newRecentMap[string](10_000),

		attachments: opts.Attachments,
		observer:    opts.Observer,
		counts:      opts.Counts,
	}
}

const verbVoided = "http://adlnet.gov/expapi/verbs/voided"

// maxRefDepth bounds how far StatementRef terms propagate along a chain of
// statements targeting statements.
const maxRefDepth = 16

// PostStatementsWithAttachments is PostStatements for a request carrying
// attachment bodies (multipart/mixed; parts is nil for application/json):
//
//   - every attachment of every statement without a fileUrl must have a
//     part with its sha2, and every part must be used by some attachment;
//   - every part's data must hash (SHA-256, -384 or -512, by the length of
//     its SHA2) to its SHA2;
//   - signature attachments are verified (schema.VerifySignature);
//   - the bodies are stored, once per sha2, before the statements.
//
// Every violation is an EINVALID *Error and stores nothing.
func (s *Service) PostStatementsWithAttachments(ctx context.Context, w Writer, stmts []*schema.Statement, v schema.Version, parts []AttachmentBody) ([]string, error) {
	bodies, err := s.checkAttachments(stmts, v, parts)
	if err != nil {
		return nil, err
	}
	if len(bodies) > 0 {
		if s.attachments == nil {
			return nil, Errorf(EINVALID, "this LRS does not store attachment data")
		}
		if err := s.attachments.PutAttachments(ctx, w.Org, bodies); err != nil {
			return nil, fmt.Errorf("store attachments: %w", err)
		}
	}
	return s.PostStatements(ctx, w, stmts, v)
}

// PutStatementWithAttachments is PutStatement with attachment bodies, under
// the rules of PostStatementsWithAttachments.
func (s *Service) PutStatementWithAttachments(ctx context.Context, w Writer, id string, st *schema.Statement, v schema.Version, parts []AttachmentBody) error {
	id = strings.ToLower(id)
	if got := st.ID(); got != "" && got != id {
		return Errorf(EINVALID, "the statement's id %q differs from the statementId parameter %q", got, id)
	}
	st.SetID(id)
	_, err := s.PostStatementsWithAttachments(ctx, w, []*schema.Statement{st}, v, parts)
	return err
}

// PutStatement stores st under id (PUT /statements?statementId=id).
// nil means stored, or an equivalent statement already had the id (204).
// ECONFLICT: a different statement has the id (409). EINVALID: st carries
// another id, or it voids a voiding statement.
func (s *Service) PutStatement(ctx context.Context, w Writer, id string, st *schema.Statement, v schema.Version) error {
	id = strings.ToLower(id)
	if got := st.ID(); got != "" && got != id {
		return Errorf(EINVALID, "the statement's id %q differs from the statementId parameter %q", got, id)
	}
	st.SetID(id)
	_, err := s.PostStatements(ctx, w, []*schema.Statement{st}, v)
	return err
}

// PostStatements stores a batch, all or nothing, and returns the ids in
// order (assigning ids to statements without one). Errors as PutStatement.
//
// Nothing is written unless the whole batch is valid and free of conflicts.
// Without transactions a crash can leave part of a batch stored; it was
// not acknowledged, and a client's retry of the same statements completes
// it, because a statement equal to a stored one is accepted again and its
// side effects (voiding, StatementRef terms) are re-ensured.
func (s *Service) PostStatements(ctx context.Context, w Writer, stmts []*schema.Statement, v schema.Version) ([]string, error) {
	ids := make([]string, len(stmts))
	inBatch := make(map[string]*schema.Statement, len(stmts))
	assigned := make(map[string]bool)
	for i, st := range stmts {
		if st.ID() == "" {
			st.SetID(uuid.NewString())
			assigned[st.ID()] = true
		}
		ids[i] = st.ID()
		if _, dup := inBatch[ids[i]]; dup {
			return nil, Errorf(EINVALID, "$[%d].id: batch-duplicate-id: the batch holds statement id %s twice", i, ids[i])
		}
		inBatch[ids[i]] = st
	}
	if len(stmts) == 0 {
		return ids, nil
	}

	// The stored statements the batch targets. Repeated ids are found by
	// the insert itself (a conflict), which spares a lookup per statement.
	var lookup []string
	for _, st := range stmts {
		if t, ok := st.RefTarget(); ok {
			if _, in := inBatch[t]; !in {
				lookup = append(lookup, t)
			}
		}
	}
	existing, err := s.store.GetStatements(ctx, w.Org, lookup)
	if err != nil {
		return nil, fmt.Errorf("look up statements: %w", err)
	}
	for i, st := range stmts {
		if t, ok := st.VoidTarget(); ok {
			if target, in := inBatch[t]; in {
				if _, voiding := target.VoidTarget(); voiding {
					return nil, Errorf(EINVALID, "$[%d].object: void-voiding: statement %s is a voiding statement and cannot be voided", i, t)
				}
			} else if rec, ok := existing[t]; ok && isVoidingRecord(rec) {
				return nil, Errorf(EINVALID, "$[%d].object: void-voiding: statement %s is a voiding statement and cannot be voided", i, t)
			}
		}
	}

	stored, done, err := s.clock.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin write: %w", err)
	}
	defer done()

	pending := stmts

	// What a conflicting write is compared with is the statement as
	// received, before the LRS sets stored, authority, timestamp and
	// version. The comparison ignores all but the timestamp, so only
	// whether the client sent one is kept (see received), not a copy.
	lrsTimestamp := make(map[string]bool)
	terms := make(map[string][]string, len(stmts))
	recs := make([]StatementRecord, 0, len(pending))
	au := []string{termAuthority + s.authorityKey(w.Authority)} // for statements/read/mine
	// The authority is decoded once, and shared by the batch's statements.
	authority, err := schema.ParseAuthority(w.Authority)
	if err != nil {
		return nil, fmt.Errorf("set authority: %w", err)
	}
	for _, st := range pending {
		st.SetStored(stored)
		st.SetParsedAuthority(authority)
		if !st.HasTimestamp() {
			st.SetTimestamp(stored)
			lrsTimestamp[st.ID()] = true
		}
		if !st.HasVersion() {
			st.SetVersion(statementVersion(v))
		}
		raw, err := st.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("marshal statement %s: %w", st.ID(), err)
		}
		t := ownTerms(st)
		ref, _ := st.RefTarget()
		if ref != "" {
			if target, ok := existing[ref]; ok {
				t = union(t, inheritable(target.Terms))
			} else if tt, ok := terms[ref]; ok {
				t = union(t, tt)
			}
		}
		terms[st.ID()] = t
		recs = append(recs, StatementRecord{ID: st.ID(), Stored: stored, Raw: raw, Terms: union(t, au), RefTarget: ref, Assigned: assigned[st.ID()]})
	}

	inserted, repeated, err := s.insert(ctx, w.Org, recs, func(id string) *schema.Statement { return received(inBatch[id], lrsTimestamp[id]) })
	if err != nil {
		return nil, err
	}
	if s.metrics != nil {
		s.metrics.statementsStored.Add(float64(inserted))
	}
	s.countStored(ctx, w.Org, stored, inserted) // counts.go

	// Side effects, for new and repeated statements alike (idempotent).
	// Statements stored earlier that target statements of this batch are
	// looked up at once, after the batch is stored (see settle).
	referrers, err := s.store.ReferrersOf(ctx, w.Org, ids)
	if err != nil {
		return nil, fmt.Errorf("find statements targeting the batch: %w", err)
	}
	for _, st := range stmts {
		if err := s.settle(ctx, w.Org, st, existing, terms, referrers[st.ID()]); err != nil {
			return nil, err
		}
	}
	if err := s.recordDefinitions(ctx, w.Org, stmts); err != nil {
		return nil, err
	}
	if s.observer != nil { // forwarding obligations: durable before the answer
		if err := s.observer.StatementsStored(ctx, w.Org, storedStatements(recs, func(id string) bool { return !repeated[id] })); err != nil {
			return nil, fmt.Errorf("statement observer: %w", err)
		}
	}
	return ids, nil
}

// authorityKey is AuthorityKey(raw), remembered.
func (s *Service) authorityKey(raw []byte) string {
	k := recentKey(string(raw))
	if key, ok := s.authorityKeys.get(k); ok {
		return key
	}
	key := AuthorityKey(raw)
	s.authorityKeys.put(k, key)
	return key
}

// insert writes recs; when some ids turn out to be taken meanwhile (another
// request, another process), those must hold equivalent statements, and the
// rest is written again. It returns how many records this call stored,
// and the ids that another write had stored first (repeated).
func (s *Service) insert(ctx context.Context, org string, recs []StatementRecord, batch func(id string) *schema.Statement) (int, map[string]bool, error) {
	stored := 0
	var repeated map[string]bool
	for attempt := 0; len(recs) > 0; attempt++ {
		err := s.store.InsertStatements(ctx, org, recs)
		if err == nil {
			return stored + len(recs), repeated, nil
		}
		if ErrorCode(err) != ECONFLICT || attempt == 3 {
			return 0, nil, fmt.Errorf("insert statements: %w", err)
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		now, err := s.store.GetStatements(ctx, org, ids)
		if err != nil {
			return 0, nil, fmt.Errorf("look up conflicting statements: %w", err)
		}
		rest := recs[:0:0]
		for _, r := range recs {
			got, taken := now[r.ID]
			if !taken {
				rest = append(rest, r)
				continue
			}
			if string(got.Raw) == string(r.Raw) {
				stored++ // ours, from the failed attempt
				continue
			}
			if err := sameStatement(batch(r.ID), got); err != nil {
				return 0, nil, err
			}
			if repeated == nil {
				repeated = map[string]bool{}
			}
			repeated[r.ID] = true
		}
		recs = rest
	}
	return stored, repeated, nil
}

// settle ensures the side effects of a stored statement: the statement it
// voids is voided, a voiding statement that arrived before it voids it, and
// StatementRef terms flow both ways along targeting chains.
func (s *Service) settle(ctx context.Context, org string, st *schema.Statement, existing map[string]StatementRecord, terms map[string][]string, referrers []string) error {
	id := st.ID()
	own, ok := terms[id]
	if !ok {
		own = inheritable(existing[id].Terms)
	}
	if t, ok := st.VoidTarget(); ok {
		if err := s.store.SetVoided(ctx, org, t); err != nil && ErrorCode(err) != ENOTFOUND {
			return fmt.Errorf("void statement %s: %w", t, err)
		}
	}
	if ref, ok := st.RefTarget(); ok {
		// The target may have been stored after we looked for it.
		if _, known := existing[ref]; !known {
			if _, inBatch := terms[ref]; !inBatch {
				got, err := s.store.GetStatements(ctx, org, []string{ref})
				if err != nil {
					return fmt.Errorf("look up statement %s: %w", ref, err)
				}
				if target, ok := got[ref]; ok {
					if err := s.propagate(ctx, org, id, inheritable(target.Terms)); err != nil {
						return err
					}
				}
			}
		}
	}
	// Statements stored earlier that target this one.
	if len(referrers) == 0 {
		return nil
	}
	recs, err := s.store.GetStatements(ctx, org, referrers)
	if err != nil {
		return fmt.Errorf("look up statements targeting %s: %w", id, err)
	}
	for _, r := range recs {
		if isVoidingRecord(r) {
			if _, voiding := st.VoidTarget(); !voiding {
				if err := s.store.SetVoided(ctx, org, id); err != nil {
					return fmt.Errorf("void statement %s: %w", id, err)
				}
			}
		}
		if err := s.propagate(ctx, org, r.ID, own); err != nil {
			return err
		}
	}
	return nil
}

// propagate adds terms to the statement id and to every statement that
// targets it, recursively.
func (s *Service) propagate(ctx context.Context, org, id string, terms []string) error {
	seen := map[string]bool{}
	level := []string{id}
	for depth := 0; depth < maxRefDepth && len(level) > 0; depth++ {
		var next []string
		for _, rid := range level {
			if seen[rid] {
				continue
			}
			seen[rid] = true
			if err := s.store.AddTerms(ctx, org, rid, terms); err != nil && ErrorCode(err) != ENOTFOUND {
				return fmt.Errorf("add terms to statement %s: %w", rid, err)
			}
			refs, err := s.store.Referrers(ctx, org, rid)
			if err != nil {
				return fmt.Errorf("find statements targeting %s: %w", rid, err)
			}
			next = append(next, refs...)
		}
		level = next
	}
	return nil
}

// received returns st as the client sent it, for the comparison with a
// stored statement of the same id: without the timestamp when the LRS set
// it (the comparison ignores stored, authority and version).
func received(st *schema.Statement, lrsTimestamp bool) *schema.Statement {
	if !lrsTimestamp {
		return st
	}
	c := st.Clone()
	delete(c.Tree(), "timestamp")
	return c
}

// sameStatement returns nil when received is equivalent to the stored
// record, and an ECONFLICT error otherwise.
func sameStatement(received *schema.Statement, rec StatementRecord) error {
	eq, err := schema.Equivalent(received, rec.Raw)
	if err != nil {
		return fmt.Errorf("compare statement %s: %w", rec.ID, err)
	}
	if !eq {
		return Errorf(ECONFLICT, "a different statement with id %s is already stored", rec.ID)
	}
	return nil
}

func isVoidingRecord(r StatementRecord) bool {
	if r.RefTarget == "" {
		return false
	}
	return slices.Contains(r.Terms, termVerb+verbVoided)
}

func statementVersion(v schema.Version) string {
	if v == schema.V1_0_3 {
		return "1.0.0"
	}
	return "2.0.0"
}

// ownTerms computes the index terms of a statement from its own content,
// sorted and distinct. The terms are written into one string and sliced
// from it: a statement has a dozen, each a prefix and an IRI.
func ownTerms(st *schema.Statement) []string {
	r := st.Refs()
	type term struct{ prefix, value string }
	var buf [24]term
	t := append(buf[:0], term{TermAll, ""}, term{termVerb, r.Verb})
	for _, a := range r.Agents {
		t = append(t, term{termAgent, a})
	}
	for _, a := range r.RelatedAgents {
		t = append(t, term{termRelatedAgent, a})
	}
	if r.Activity != "" {
		t = append(t, term{termActivity, r.Activity})
	}
	for _, a := range r.RelatedActivities {
		t = append(t, term{termRelatedActivity, a})
	}
	if r.Registration != "" {
		t = append(t, term{termRegistration, r.Registration})
	}
	n := 0
	for _, x := range t {
		n += len(x.prefix) + len(x.value)
	}
	b := make([]byte, 0, n)
	for _, x := range t {
		b = append(append(b, x.prefix...), x.value...)
	}
	all := string(b)
	out := make([]string, len(t))
	for i, x := range t {
		l := len(x.prefix) + len(x.value)
		out[i], all = all[:l], all[l:]
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// union returns the sorted, deduplicated union of a and b.
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// GetStatement returns a stored statement (format=exact) and its stored
// time. With voided false (statementId) it is ENOTFOUND when missing or
// voided; with voided true (voidedStatementId), ENOTFOUND unless voided.
func (s *Service) GetStatement(ctx context.Context, org, id string, voided bool) ([]byte, time.Time, error) {
	id = strings.ToLower(id)
	got, err := s.store.GetStatements(ctx, org, []string{id})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get statement %s: %w", id, err)
	}
	rec, ok := got[id]
	switch {
	case !ok:
		return nil, time.Time{}, Errorf(ENOTFOUND, "no statement with id %s", id)
	case rec.Voided && !voided:
		return nil, time.Time{}, Errorf(ENOTFOUND, "statement %s is voided: fetch it with voidedStatementId", id)
	case !rec.Voided && voided:
		return nil, time.Time{}, Errorf(ENOTFOUND, "statement %s is not voided: fetch it with statementId", id)
	}
	return rec.Raw, rec.Stored, nil
}

// QueryStatements runs q and returns its first page.
//
// The query's upper bound is frozen at the time of this first page (and
// carried in the more token), so that later pages neither repeat nor pick
// up statements stored meanwhile. Statements stored before that bound are
// returned as soon as they are visible; X-Experience-API-Consistent-Through
// (ConsistentThrough) tells clients up to when the result is complete.
func (s *Service) QueryStatements(ctx context.Context, org string, q Query) (Page, error) {
	bound := s.now().UTC().Truncate(time.Millisecond)
	if q.Until.IsZero() || q.Until.After(bound) {
		q.Until = bound
	}
	return s.page(ctx, org, q, nil)
}

// More continues a query from a Page.More token. EINVALID when the token is
// malformed or belongs to another organization.
func (s *Service) More(ctx context.Context, org, token string) (Page, error) {
	c, err := decodeCursor(token)
	if err != nil || c.Org != org {
		return Page{}, Errorf(EINVALID, "the more token is not valid")
	}
	return s.page(ctx, org, c.Query, &Cursor{Stored: time.UnixMilli(c.Stored).UTC(), ID: c.ID})
}

func (s *Service) page(ctx context.Context, org string, q Query, after *Cursor) (Page, error) {
	limit := q.Limit
	if limit <= 0 || limit > s.maxLimit {
		limit = s.maxLimit
	}
	sq := StatementQuery{
		Terms:     queryTerms(q),
		Since:     q.Since,
		Until:     q.Until,
		After:     after,
		Ascending: q.Ascending,
		Limit:     limit + 1,
	}
	recs, err := s.store.QueryStatements(ctx, org, sq)
	if err != nil {
		return Page{}, fmt.Errorf("query statements: %w", err)
	}
	p := Page{Query: q}
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[len(recs)-1]
		p.More = encodeCursor(cursorToken{Org: org, Query: q, Stored: last.Stored.UnixMilli(), ID: last.ID})
	}
	p.Statements = make([][]byte, len(recs))
	for i, r := range recs {
		p.Statements[i] = r.Raw
		if r.Stored.After(p.LastStored) {
			p.LastStored = r.Stored
		}
	}
	return p, nil
}

func queryTerms(q Query) []string {
	var t []string
	if q.Agent != "" {
		if q.RelatedAgents {
			t = append(t, termRelatedAgent+q.Agent)
		} else {
			t = append(t, termAgent+q.Agent)
		}
	}
	if q.Verb != "" {
		t = append(t, termVerb+q.Verb)
	}
	if q.Activity != "" {
		if q.RelatedActivities {
			t = append(t, termRelatedActivity+q.Activity)
		} else {
			t = append(t, termActivity+q.Activity)
		}
	}
	if q.Registration != "" {
		t = append(t, termRegistration+strings.ToLower(q.Registration))
	}
	if q.Authority != "" {
		t = append(t, termAuthority+q.Authority)
	}
	if len(t) == 0 {
		t = append(t, TermAll)
	}
	return t
}

// cursorToken is what a more token carries: the whole query (with its
// frozen upper bound) and the position of the last statement returned.
type cursorToken struct {
	Org    string `json:"o"`
	Query  Query  `json:"q"`
	Stored int64  `json:"s"`
	ID     string `json:"i"`
}

func encodeCursor(c cursorToken) string {
	b, _ := json.Marshal(c) // plain data: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(token string) (cursorToken, error) {
	var c cursorToken
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.ID == "" || c.Org == "" {
		return c, errors.New("incomplete cursor")
	}
	return c, nil
}

// ConsistentThrough returns a time such that every statement stored at or
// before it is visible to every query.
func (s *Service) ConsistentThrough(ctx context.Context) (time.Time, error) {
	ct, err := s.clock.ConsistentThrough(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("consistent-through: %w", err)
	}
	return ct, nil
}

// LocalClock is the Clock of a single writing process: stored times come
// from its wall clock, and the writes it tracks are its own.
type LocalClock struct {
	now      func() time.Time
	mu       sync.Mutex
	last     time.Time
	seq      uint64
	inflight map[uint64]time.Time
}

// NewLocalClock returns a LocalClock reading now (time.Now if nil).
func NewLocalClock(now func() time.Time) *LocalClock {
	if now == nil {
		now = time.Now
	}
	return &LocalClock{now: now, inflight: map[uint64]time.Time{}}
}

var _ Clock = (*LocalClock)(nil)

// Begin returns the stored time for a write, never earlier than one handed
// out before, truncated to the millisecond.
func (c *LocalClock) Begin(context.Context) (time.Time, func(), error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now.UTC().Truncate(time.Millisecond)
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	c.seq++
	n := c.seq
	c.inflight[n] = t
	return t, func() {
		c.mu.Lock()
		delete(c.inflight, n)
		c.mu.Unlock()
	}, nil
}

// ConsistentThrough is one millisecond before the earliest write still in
// flight, or before the next stored time that may be handed out.
func (c *LocalClock) ConsistentThrough(context.Context) (time.Time, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	next := now.UTC().Truncate(time.Millisecond)
	if c.last.After(next) {
		next = c.last
	}
	for _, t := range c.inflight {
		if t.Before(next) {
			next = t
		}
	}
	return next.Add(-time.Millisecond), nil
}
