package main

import (
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// Concurrent PUTs of one statement id to one process, on each engine: the
// same statement is accepted by every request (204), whichever stored it.
func TestConcurrentPutSameID(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGTERM")
	}
	forEachEngine(t, func(t *testing.T, storeEnv []string) {
		const key, secret = "put-key", "put-secret-0123456789abcdef"
		p := startLRS(t, append(storeEnv, "LRS_BOOTSTRAP_KEY="+key, "LRS_BOOTSTRAP_SECRET="+secret)...)
		c := &client{t: t, base: p.base + "/xapi", key: key, secret: secret, version: "2.0.0"}
		id := uuid.NewString()
		st := e2eStatement("", "same@example.com", "attempted", "concurrent")
		const n = 20
		results := make([]response, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = sendResponse(c, http.MethodPut, "/statements?statementId="+id, st)
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			switch {
			case errs[i] != nil:
				t.Errorf("PUT %d: %v", i, errs[i])
			case results[i].status != http.StatusNoContent:
				t.Errorf("PUT %d: status %d, want 204: %s", i, results[i].status, results[i].body)
			}
		}
		c.expect(http.StatusConflict, http.MethodPut, "/statements?statementId="+id, e2eStatement("", "same@example.com", "failed", "concurrent"))
		if got := c.queryAll("/statements?verb=http://adlnet.gov/expapi/verbs/attempted"); len(got) != 1 || got[0] != id {
			t.Errorf("query returned %v, want [%s]", got, id)
		}
	})
}
