package api_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

// BenchmarkPostBatch measures the whole statements POST path (HTTP
// handler, auth, parsing, validation, service, the embedded engine with
// synced writes) for batches of 100, from 8 concurrent clients.
func BenchmarkPostBatch(b *testing.B) {
	st := openStore(&testing.T{})
	defer st.Close()
	svc := lrs.NewService(st, lrs.ServiceOptions{})
	h, err := api.New(api.Options{
		Service: svc, Documents: lrs.NewDocuments(st.(lrs.DocumentStore), nil), Auth: credentials,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBatch: 1000,
	})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	body := func() []byte {
		parts := make([]string, 100)
		for i := range parts {
			k := n.Add(1)
			parts[i] = fmt.Sprintf(`{"id":%q,"actor":{"objectType":"Agent","mbox":"mailto:user%d@example.com","name":"User"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},"object":{"objectType":"Activity","id":"http://example.com/activities/%d","definition":{"name":{"en-US":"Activity"},"type":"http://adlnet.gov/expapi/activities/course"}},"result":{"score":{"scaled":0.8},"success":true,"completion":true,"duration":"PT1M30S"},"context":{"registration":%q,"contextActivities":{"parent":[{"id":"http://example.com/courses/%d"}]}},"timestamp":"2026-11-25T10:00:00.000Z"}`,
				uuid.NewString(), k%10000, k%2000, uuid.NewString(), k%200)
		}
		return []byte("[" + strings.Join(parts, ",") + "]")
	}
	b.SetParallelism(4) // 2 cores × 4 = 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/xapi/statements", bytes.NewReader(body()))
			r.SetBasicAuth("writer", "s-writer")
			r.Header.Set("X-Experience-API-Version", "2.0.0")
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "statements/s")
}
