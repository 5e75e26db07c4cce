package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/lrs/api"
)

// TestConsoleResultsNotKept: on a server that keeps no results, an
// objective's page says so where its results would be (the rest of the
// page works), and a result's page and its form answer the service's
// refusal. The results themselves are tested against the booted binary
// (cmd/lrs TestConsoleResultsOverride, TestConsoleForwardingBrowser).
func TestConsoleResultsNotKept(t *testing.T) {
	n, _ := consoleNode(t)
	b, csrf := n.consoleIn("a@example.com")
	var obj struct{ ID string }
	n.admin("POST", api.AdminPrefix+"/orgs/org-a/objectives", `{"name":"Quiz","activity_id":"https://courses.example/quiz"}`, 201, &obj)
	base := "/console/orgs/org-a/objectives/" + obj.ID
	page := b.page(200, base)
	if !strings.Contains(page, `<p class="muted" id="no-results-kept">This server keeps no results.</p>`) || !strings.Contains(page, `id="save-objective"`) {
		t.Errorf("the objective's page without results:\n%s", page)
	}
	if page := b.page(409, base+"/result?participant=ada@example.com"); !strings.Contains(page, "This server keeps no results.") {
		t.Errorf("a result's page without results:\n%s", page)
	}
	_, page = b.post(409, base+"/result", csrf, url.Values{"participant": {"ada@example.com"}, "success": {"true"}, "reason": {"r"}})
	if !strings.Contains(page, "This server keeps no results.") {
		t.Errorf("an override without results:\n%s", page)
	}
}
