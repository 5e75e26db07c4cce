package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Random streams. Every batch and every query gets its own generator derived
// from (seed, stream, index), so the output is deterministic for a seed no
// matter how work is scheduled across goroutines.
const (
	streamPost   uint64 = 1
	streamQuery  uint64 = 2
	streamWarmup uint64 = 3
)

// registrationNS is the namespace of the name-based registration UUIDs. The
// registration pool does not depend on the seed, so a -skip-post run finds
// the registrations written by any earlier run with the same pool size.
var registrationNS = uuid.MustParse("6f1c5a52-3f0e-4b8a-9b0e-2f4d8a1c7e10")

// adlVerbs are the first verb names used; "voided" is left out on purpose
// since a voiding statement needs a StatementRef object.
var adlVerbs = []string{
	"completed", "attempted", "passed", "failed", "answered", "experienced",
	"launched", "initialized", "terminated", "progressed", "scored",
	"mastered", "interacted", "registered", "resumed", "suspended",
	"commented", "shared", "responded", "attended", "asked", "exited",
	"imported", "preferred",
}

// pools describes the entities statements are drawn from.
type pools struct {
	agents        int
	activities    int
	verbs         []string
	registrations []string
}

func newPools(agents, activities, verbs, registrations int) *pools {
	p := &pools{agents: agents, activities: activities}
	for i := range verbs {
		if i < len(adlVerbs) {
			p.verbs = append(p.verbs, adlVerbs[i])
		} else {
			p.verbs = append(p.verbs, "verb-"+strconv.Itoa(i))
		}
	}
	p.registrations = make([]string, registrations)
	for i := range p.registrations {
		p.registrations[i] = uuid.NewSHA1(registrationNS, []byte(strconv.Itoa(i))).String()
	}
	return p
}

func mbox(n int) string                  { return "mailto:user" + strconv.Itoa(n) + "@example.com" }
func verbIRI(v string) string            { return "http://adlnet.gov/expapi/verbs/" + v }
func activityIRI(m int) string           { return "http://example.com/activities/" + strconv.Itoa(m) }
func courseIRI(m int) string             { return "http://example.com/courses/" + strconv.Itoa(m/10) }
func programIRI(m int) string            { return "http://example.com/programs/" + strconv.Itoa(m/100) }
func langMap(s string) map[string]string { return map[string]string{"en-US": s} }

// JSON shapes of the generated statements; field order follows the struct.
// A statement is about 1.7 KB: an actor with a name, a verb with a display,
// an object activity with a full definition (name, description, type,
// interaction, extensions), a result with a score, a response
// and extensions, and a context with a registration, an instructor, the
// platform and language, parent, grouping and category activities (each
// with a definition) and extensions. Definitions depend only on the
// activity, so every statement about an activity repeats its definition,
// as content does.
type (
	statement struct {
		ID        string    `json:"id,omitempty"`
		Actor     agent     `json:"actor"`
		Verb      verb      `json:"verb"`
		Object    activity  `json:"object"`
		Result    result    `json:"result"`
		Context   stContext `json:"context"`
		Timestamp string    `json:"timestamp"`
	}
	agent struct {
		ObjectType string `json:"objectType"`
		Mbox       string `json:"mbox"`
		Name       string `json:"name"`
	}
	verb struct {
		ID      string            `json:"id"`
		Display map[string]string `json:"display"`
	}
	activity struct {
		ObjectType string      `json:"objectType,omitempty"`
		ID         string      `json:"id"`
		Definition *definition `json:"definition,omitempty"`
	}
	definition struct {
		Name                    map[string]string `json:"name,omitempty"`
		Description             map[string]string `json:"description,omitempty"`
		Type                    string            `json:"type"`
		MoreInfo                string            `json:"moreInfo,omitempty"`
		InteractionType         string            `json:"interactionType,omitempty"`
		CorrectResponsesPattern []string          `json:"correctResponsesPattern,omitempty"`
		Choices                 []component       `json:"choices,omitempty"`
		Extensions              map[string]any    `json:"extensions,omitempty"`
	}
	component struct {
		ID          string            `json:"id"`
		Description map[string]string `json:"description"`
	}
	result struct {
		Score      score          `json:"score"`
		Success    bool           `json:"success"`
		Completion bool           `json:"completion"`
		Response   string         `json:"response"`
		Duration   string         `json:"duration"`
		Extensions map[string]any `json:"extensions"`
	}
	score struct {
		Scaled float64 `json:"scaled"`
		Raw    float64 `json:"raw"`
		Min    float64 `json:"min"`
		Max    float64 `json:"max"`
	}
	stContext struct {
		Registration      string            `json:"registration"`
		Instructor        agent             `json:"instructor"`
		Platform          string            `json:"platform"`
		Language          string            `json:"language"`
		ContextActivities contextActivities `json:"contextActivities"`
		Extensions        map[string]any    `json:"extensions"`
	}
	contextActivities struct {
		Parent   []activity `json:"parent"`
		Grouping []activity `json:"grouping"`
		Category []activity `json:"category"`
	}
)

const (
	extAttempt  = "http://example.com/xapi/extensions/attempt"
	extSession  = "http://example.com/xapi/extensions/session-id"
	extDuration = "http://example.com/xapi/extensions/expected-duration"
)

// streamRand returns a deterministic generator for (seed, stream, index) and
// its underlying byte source (used for UUIDs).
func streamRand(seed, stream, index uint64) (*rand.Rand, io.Reader) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], stream)
	binary.LittleEndian.PutUint64(key[16:], index)
	src := rand.NewChaCha8(key)
	return rand.New(src), src
}

// objectDefinition is the definition of activity m: a yes-or-no
// question of course m/10. It depends on m alone.
func objectDefinition(m int) *definition {
	name := "Activity " + strconv.Itoa(m)
	return &definition{
		Name:                    langMap(name),
		Description:             langMap("Question " + strconv.Itoa(m%10+1) + " of course " + strconv.Itoa(m/10)),
		Type:                    "http://adlnet.gov/expapi/activities/cmi.interaction",
		InteractionType:         "choice",
		CorrectResponsesPattern: []string{"choice-" + strconv.Itoa(m%2)},
		Choices: []component{
			{ID: "choice-0", Description: langMap("Yes")},
			{ID: "choice-1", Description: langMap("No")},
		},
		Extensions: map[string]any{extDuration: "PT5M"},
	}
}

// newStatement draws one statement from the pools. With withID false the
// statement carries no id, so the LRS assigns one.
func (p *pools) newStatement(r *rand.Rand, ids io.Reader, now time.Time, withID bool) statement {
	id, err := uuid.NewRandomFromReader(ids)
	if err != nil { // ChaCha8 never fails to read
		panic(err)
	}
	session, err := uuid.NewRandomFromReader(ids)
	if err != nil {
		panic(err)
	}
	n := r.IntN(p.agents)
	m := r.IntN(p.activities)
	v := p.verbs[r.IntN(len(p.verbs))]
	raw := float64(r.IntN(101))
	st := statement{
		Actor: agent{ObjectType: "Agent", Mbox: mbox(n), Name: "User " + strconv.Itoa(n)},
		Verb:  verb{ID: verbIRI(v), Display: langMap(v)},
		Object: activity{
			ObjectType: "Activity",
			ID:         activityIRI(m),
			Definition: objectDefinition(m),
		},
		Result: result{
			Score:      score{Scaled: raw / 100, Raw: raw, Min: 0, Max: 100},
			Success:    raw >= 50,
			Completion: true,
			Response:   "choice-" + strconv.Itoa(r.IntN(2)),
			Duration:   "PT1M30S",
			Extensions: map[string]any{extAttempt: 1 + r.IntN(3)},
		},
		Context: stContext{
			Registration: p.registrations[r.IntN(len(p.registrations))],
			Instructor:   agent{ObjectType: "Agent", Mbox: "mailto:instructor" + strconv.Itoa(m/100) + "@example.com", Name: "Instructor " + strconv.Itoa(m/100)},
			Platform:     "Example LMS",
			Language:     "en-US",
			ContextActivities: contextActivities{
				Parent: []activity{{ID: courseIRI(m), Definition: &definition{
					Name: langMap("Course " + strconv.Itoa(m/10)),
					Type: "http://adlnet.gov/expapi/activities/course",
				}}},
				Grouping: []activity{{ID: programIRI(m), Definition: &definition{
					Name: langMap("Program " + strconv.Itoa(m/100)),
					Type: "http://adlnet.gov/expapi/activities/module",
				}}},
				Category: []activity{{ID: "https://w3id.org/xapi/cmi5/context/categories/moveon", Definition: &definition{
					Type: "http://adlnet.gov/expapi/activities/profile",
				}}},
			},
			Extensions: map[string]any{extSession: session.String()},
		},
		Timestamp: now.UTC().Format(time.RFC3339Nano),
	}
	if withID {
		st.ID = id.String()
	}
	return st
}

// batchBody returns the JSON body of POST number idx carrying size
// statements: an array, or a single object when size is 1. Statements carry
// their ids when withIDs is set.
func (p *pools) batchBody(seed uint64, idx, size int, now time.Time, withIDs bool) ([]byte, error) {
	r, ids := streamRand(seed, streamPost, uint64(idx))
	if size == 1 {
		return json.Marshal(p.newStatement(r, ids, now, withIDs))
	}
	sts := make([]statement, size)
	for i := range sts {
		sts[i] = p.newStatement(r, ids, now, withIDs)
	}
	return json.Marshal(sts)
}

// Query operations, cycled through in this order.
const (
	opPost         = "post-batch"
	opAgent        = "get-agent"
	opVerb         = "get-verb"
	opActivity     = "get-activity"
	opRegistration = "get-registration"
)

var queryOps = []string{opAgent, opVerb, opActivity, opRegistration}

// newQuery returns the operation name and the query string of query idx in
// the given stream.
func (p *pools) newQuery(seed, stream uint64, idx int) (op string, query string) {
	r, _ := streamRand(seed, stream, uint64(idx))
	q := url.Values{}
	op = queryOps[idx%len(queryOps)]
	switch op {
	case opAgent:
		q.Set("agent", fmt.Sprintf(`{"mbox":%q}`, mbox(r.IntN(p.agents))))
	case opVerb:
		q.Set("verb", verbIRI(p.verbs[r.IntN(len(p.verbs))]))
	case opActivity:
		q.Set("activity", activityIRI(r.IntN(p.activities)))
	case opRegistration:
		q.Set("registration", p.registrations[r.IntN(len(p.registrations))])
	}
	q.Set("limit", "10")
	return op, q.Encode()
}
