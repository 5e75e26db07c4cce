package schema_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/schema"
)

// benchBatch is a batch of n typical statements (≈600 bytes each).
func benchBatch(n int) []byte {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"actor":{"objectType":"Agent","mbox":"mailto:user%d@example.com","name":"User %d"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},"object":{"objectType":"Activity","id":"http://example.com/activities/%d","definition":{"name":{"en-US":"Activity %d"},"type":"http://adlnet.gov/expapi/activities/course"}},"result":{"score":{"scaled":0.8},"success":true,"completion":true,"duration":"PT1M30S"},"context":{"registration":"9e5a1b42-6a56-4d4b-8f43-3a0b2e1b9b%02d","contextActivities":{"parent":[{"id":"http://example.com/courses/%d"}]}},"timestamp":"2026-11-25T10:00:00.000Z"}`, i, i, i%2000, i%2000, i%100, i%200)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

func BenchmarkParseStatements(b *testing.B) {
	body := benchBatch(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		stmts, _, err := schema.ParseStatements(body, schema.V2_0_0, 1000)
		if err != nil || len(stmts) != 100 {
			b.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := s.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "statements/s")
}

// fullStatement is the statement shape of cmd/lrsbench (≈1.7 KB: a named
// actor, a verb with a display, an object with a full definition, a result
// with a score and extensions, a context with registration, instructor,
// platform, language, three context activities with definitions and
// extensions).
const fullStatement = `{"id":"e60659f7-ee10-41b5-8820-c7673d4e%04d","actor":{"objectType":"Agent","mbox":"mailto:user%d@example.com","name":"User %d"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attended","display":{"en-US":"attended"}},"object":{"objectType":"Activity","id":"http://example.com/activities/%d","definition":{"name":{"en-US":"Activity 1404"},"description":{"en-US":"Question 5 of course 140"},"type":"http://adlnet.gov/expapi/activities/cmi.interaction","interactionType":"choice","correctResponsesPattern":["choice-0"],"choices":[{"id":"choice-0","description":{"en-US":"Yes"}},{"id":"choice-1","description":{"en-US":"No"}}],"extensions":{"http://example.com/xapi/extensions/expected-duration":"PT5M"}}},"result":{"score":{"scaled":0.24,"raw":24,"min":0,"max":100},"success":false,"completion":true,"response":"choice-1","duration":"PT1M30S","extensions":{"http://example.com/xapi/extensions/attempt":1}},"context":{"registration":"a274a931-722f-5264-99a9-ba553ef224cf","instructor":{"objectType":"Agent","mbox":"mailto:instructor14@example.com","name":"Instructor 14"},"platform":"Example LMS","language":"en-US","contextActivities":{"parent":[{"id":"http://example.com/courses/140","definition":{"name":{"en-US":"Course 140"},"type":"http://adlnet.gov/expapi/activities/course"}}],"grouping":[{"id":"http://example.com/programs/14","definition":{"name":{"en-US":"Program 14"},"type":"http://adlnet.gov/expapi/activities/module"}}],"category":[{"id":"https://w3id.org/xapi/cmi5/context/categories/moveon","definition":{"type":"http://adlnet.gov/expapi/activities/profile"}}]},"extensions":{"http://example.com/xapi/extensions/session-id":"dc242b09-ea36-4b73-b968-4911bda3de36"}},"timestamp":"2026-11-25T10:00:00Z"}`

func fullBatch(n int) []byte {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(fullStatement, i, i, i, i%2000)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

// BenchmarkParseFullStatements parses and validates a batch of 100
// statements of lrsbench's shape; BenchmarkEncodeFullStatements encodes
// them as they are stored.
func BenchmarkParseFullStatements(b *testing.B) {
	body := fullBatch(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		stmts, _, err := schema.ParseStatements(body, schema.V2_0_0, 1000)
		if err != nil || len(stmts) != 100 {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, 100)
}

// reportCPU reports the process CPU time per statement since cpu (the
// figure the other work on a shared machine moves least).
func reportCPU(b *testing.B, cpu time.Duration, perOp int) {
	b.ReportMetric(float64(processCPU()-cpu)/float64(time.Microsecond)/float64(b.N*perOp), "cpu-µs/statement")
}

func BenchmarkEncodeFullStatements(b *testing.B) {
	stmts, _, err := schema.ParseStatements(fullBatch(100), schema.V2_0_0, 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		for _, s := range stmts {
			if _, err := s.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, cpu, 100)
}
