package dockertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// The Grafana of compose.yaml: its provisioning (the data source is the
// compose file's Prometheus, the dashboards are the mounted directory) and
// its dashboard, whose every query names metrics the binary exports: the
// test builds lrs, boots it, makes the requests that create the series and
// reads its /metrics.

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(read(t, filepath.Join("grafana", "dashboards", "lrs.json")), &d); err != nil {
		t.Fatalf("grafana/dashboards/lrs.json: %v", err)
	}
	return d
}

// promQLNames are the words of a PromQL expression that are not metric
// names: functions, aggregations, keywords.
var promQLNames = map[string]bool{
	"sum": true, "max": true, "min": true, "avg": true, "count": true, "by": true, "without": true, "rate": true, "irate": true,
	"increase": true, "histogram_quantile": true, "le": true, "topk": true, "bottomk": true, "offset": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "and": true, "or": true, "unless": true, "abs": true, "clamp_min": true, "delta": true,
}

// metricNames returns the metric names an expression reads: the words
// outside braces, quotes and the grouping of by (…), that are not PromQL's
// own.
func metricNames(expr string) []string {
	expr = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
	expr = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(expr, "")
	expr = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(expr, "")
	expr = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\([^)]*\)`).ReplaceAllString(expr, "")
	var out []string
	for _, w := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`).FindAllString(expr, -1) {
		if !promQLNames[w] {
			out = append(out, w)
		}
	}
	return out
}

func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	g, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("compose.yaml has no grafana service")
	}
	if !strings.HasPrefix(g.Image, "grafana/grafana:") || strings.HasSuffix(g.Image, ":latest") {
		t.Errorf("grafana image %q: want a pinned grafana/grafana tag", g.Image)
	}
	for _, want := range []string{"./grafana/provisioning:/etc/grafana/provisioning", "./grafana/dashboards:/var/lib/grafana/dashboards"} {
		if !slices.ContainsFunc(g.Volumes, func(v string) bool { return strings.HasPrefix(v, want) }) {
			t.Errorf("the grafana service does not mount %s: %v", want, g.Volumes)
		}
	}
	if _, ok := g.dependsOn()["prometheus"]; !ok {
		t.Error("the grafana service does not depend on prometheus")
	}
	var sources struct {
		Datasources []struct{ Name, UID, Type, URL string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(read(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yaml")), &sources); err != nil {
		t.Fatal(err)
	}
	if len(sources.Datasources) != 1 || sources.Datasources[0].Type != "prometheus" || sources.Datasources[0].UID == "" {
		t.Fatalf("data sources %+v: want the one Prometheus", sources.Datasources)
	}
	src := sources.Datasources[0]
	if _, ok := c.Services["prometheus"]; !ok || src.URL != "http://prometheus:9090" {
		t.Errorf("the data source's URL %q is not the compose file's prometheus service", src.URL)
	}
	var providers struct {
		Providers []struct {
			Type    string
			Options struct{ Path string }
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(read(t, filepath.Join("grafana", "provisioning", "dashboards", "lrs.yaml")), &providers); err != nil {
		t.Fatal(err)
	}
	if len(providers.Providers) != 1 || providers.Providers[0].Type != "file" || providers.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard providers %+v: want the mounted directory", providers.Providers)
	}

	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || len(d.Panels) < 10 {
		t.Fatalf("dashboard %q (%q): %d panels", d.Title, d.UID, len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is repeated", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: grid position %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != src.UID {
			t.Errorf("panel %q does not use the provisioned data source %q", p.Title, src.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || len(metricNames(q.Expr)) == 0 {
				t.Errorf("panel %q: query %s names no metric: %q", p.Title, q.RefID, q.Expr)
			}
		}
	}
}

// TestGrafanaDashboardMetrics checks every metric the dashboard reads
// against the /metrics of the booted binary.
func TestGrafanaDashboardMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots the binary")
	}
	exported := bootedMetrics(t)
	d := loadDashboard(t)
	used := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, name := range metricNames(q.Expr) {
				used++
				if name == "up" { // Prometheus's own, of every target
					continue
				}
				if !exported[name] {
					t.Errorf("panel %q reads %s, which lrs does not export", p.Title, name)
				}
			}
		}
	}
	if used < 15 {
		t.Errorf("the dashboard reads only %d metrics", used)
	}
}

const (
	bootToken = "dockertest-admin-token-0123456789abcdef"
	bootKey   = "dockertest-key"
	bootSec   = "dockertest-secret-0123456789abcdef"
)

// bootedMetrics builds lrs, boots it (forwarding and accounts on), makes
// the requests whose series are only created by use (an xAPI request, a
// failed authentication, an admin action) and returns the names in its
// /metrics: the families, with _bucket, _sum and _count for histograms.
func bootedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lrs")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lrs")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lrs: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LRS_ADDR=127.0.0.1:0", "LRS_DATA_DIR=" + t.TempDir(),
		"LRS_ADMIN_TOKEN=" + bootToken, "LRS_FORWARD_KEY=" + strings.Repeat("a", 43) + "=",
		"LRS_BOOTSTRAP_KEY=" + bootKey, "LRS_BOOTSTRAP_SECRET=" + bootSec}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := regexp.MustCompile(`listening on (\S+:\d+)`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("lrs did not start within 60s")
	}
	do := func(method, path, user, pass, bearer, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	do("GET", "/xapi/statements", "", "", "", "") // a failed authentication
	do("POST", "/xapi/statements", bootKey, bootSec, "", `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},"object":{"id":"http://example.com/a"}}`)
	do("GET", "/admin/v1/orgs", "", "", bootToken, "")
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	if !names["lrs_statements_stored_total"] {
		t.Fatalf("the scrape lacks lrs_statements_stored_total (%d names):\n%s", len(names), log.String())
	}
	return names
}

// The checker itself: what metricNames reads of a query.
func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.95, sum by (le, route) (rate(lrs_http_request_duration_seconds_bucket{job="lrs"}[5m])))`: {"lrs_http_request_duration_seconds_bucket"},
		`sum(up{job="lrs"})`: {"up"},
		`max by (type) (lrs_forward_parked) / ignoring(type) sum(lrs_forward_queue_depth)`: {"lrs_forward_parked", "lrs_forward_queue_depth"},
	} {
		if got := metricNames(expr); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}
