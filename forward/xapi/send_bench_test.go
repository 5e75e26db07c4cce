package xapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
)

// BenchmarkSend is one Send of a batch of 100 stored statements (with
// stored and authority) to a downstream that reads the body and answers
// 200: the destination's CPU per batch, the test server's included.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/about") {
			_, _ = io.WriteString(w, `{"version":["1.0.3"]}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `[]`)
	}))
	defer srv.Close()
	batch := items(100)
	for i := range batch {
		s := string(batch[i].Statement)
		batch[i].Statement = []byte(s[:len(s)-1] + `,"stored":"2026-12-04T10:00:00.123Z","authority":{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"fb-up-key"}},"version":"1.0.3"}`)
	}
	d := newBasic(b, srv.URL, "x")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := d.Send(ctx, batch); r.Outcome != forward.OutcomeSuccess {
			b.Fatalf("%+v", r)
		}
	}
}
