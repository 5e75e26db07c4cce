package schema_test

import (
	"fmt"
	"strings"
	"testing"

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
