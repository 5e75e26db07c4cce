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
func langMap(s string) map[string]string { return map[string]string{"en-US": s} }

// JSON shapes of the generated statements; field order follows the struct.
type (
	statement struct {
		ID        string    `json:"id"`
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
		Name map[string]string `json:"name"`
		Type string            `json:"type"`
	}
	result struct {
		Score      score  `json:"score"`
		Success    bool   `json:"success"`
		Completion bool   `json:"completion"`
		Duration   string `json:"duration"`
	}
	score struct {
		Scaled float64 `json:"scaled"`
	}
	stContext struct {
		Registration      string            `json:"registration"`
		ContextActivities contextActivities `json:"contextActivities"`
	}
	contextActivities struct {
		Parent []activity `json:"parent"`
	}
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

// newStatement draws one statement from the pools.
func (p *pools) newStatement(r *rand.Rand, ids io.Reader, now time.Time) statement {
	id, err := uuid.NewRandomFromReader(ids)
	if err != nil { // ChaCha8 never fails to read
		panic(err)
	}
	n := r.IntN(p.agents)
	m := r.IntN(p.activities)
	v := p.verbs[r.IntN(len(p.verbs))]
	return statement{
		ID:    id.String(),
		Actor: agent{ObjectType: "Agent", Mbox: mbox(n), Name: "User " + strconv.Itoa(n)},
		Verb:  verb{ID: verbIRI(v), Display: langMap(v)},
		Object: activity{
			ObjectType: "Activity",
			ID:         activityIRI(m),
			Definition: &definition{
				Name: langMap("Activity " + strconv.Itoa(m)),
				Type: "http://adlnet.gov/expapi/activities/course",
			},
		},
		Result: result{Score: score{Scaled: 0.8}, Success: true, Completion: true, Duration: "PT1M30S"},
		Context: stContext{
			Registration:      p.registrations[r.IntN(len(p.registrations))],
			ContextActivities: contextActivities{Parent: []activity{{ID: courseIRI(m)}}},
		},
		Timestamp: now.UTC().Format(time.RFC3339Nano),
	}
}

// batchBody returns the JSON body of POST number idx carrying size
// statements: an array, or a single object when size is 1.
func (p *pools) batchBody(seed uint64, idx, size int, now time.Time) ([]byte, error) {
	r, ids := streamRand(seed, streamPost, uint64(idx))
	if size == 1 {
		return json.Marshal(p.newStatement(r, ids, now))
	}
	sts := make([]statement, size)
	for i := range sts {
		sts[i] = p.newStatement(r, ids, now)
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
