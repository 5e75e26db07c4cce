// Package dockertest checks the container files of docker/ against each
// other and against the binary: the compose file's services, their
// environment (every variable is a real lrs setting), healthcheck and ports,
// Prometheus's targets, and the shape of the Dockerfile. It is a module of
// its own so that its YAML parser stays out of the server's dependencies.
package dockertest

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     any            `yaml:"command"`
	Environment any            `yaml:"environment"` // a map or a list of NAME=value
	DependsOn   any            `yaml:"depends_on"`  // a list or a map of conditions
	Healthcheck map[string]any `yaml:"healthcheck"`
	Ports       []string       `yaml:"ports"`
	Volumes     []string       `yaml:"volumes"`
}

func (s service) env(t *testing.T) map[string]string {
	t.Helper()
	out := make(map[string]string)
	switch e := s.Environment.(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			if v == nil {
				out[k] = ""
			} else {
				out[k] = strings.TrimSpace(strings.Trim(toString(v), `"`))
			}
		}
	case []any:
		for _, item := range e {
			k, v, _ := strings.Cut(toString(item), "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment has an unexpected shape %T", e)
	}
	return out
}

func (s service) dependsOn() map[string]string {
	out := make(map[string]string)
	switch d := s.DependsOn.(type) {
	case []any:
		for _, name := range d {
			out[toString(name)] = "service_started"
		}
	case map[string]any:
		for name, v := range d {
			cond := "service_started"
			if m, ok := v.(map[string]any); ok && m["condition"] != nil {
				cond = toString(m["condition"])
			}
			out[name] = cond
		}
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := yaml.Marshal(x)
		return strings.TrimSpace(string(b))
	}
}

type prometheusConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// dockerDir holds the files under test, seen from this module.
var dockerDir = filepath.Join("..", "..", "docker")

// read returns a file of dockerDir.
func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	if err := yaml.Unmarshal(read(t, "compose.yaml"), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	return c
}

// lrsServices are the services built from the Dockerfile.
func lrsServices(t *testing.T, c compose) []string {
	t.Helper()
	var names []string
	for name, s := range c.Services {
		if s.Build != nil || strings.HasPrefix(s.Image, "lrs") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// settings returns the environment variables lrs reads, from the settings
// tables of cmd/lrs (config.go and the files that add settings of their
// own); secrets also have a _FILE twin.
func settings(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "cmd", "lrs", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
	}
	src := sb.String()
	names := make(map[string]bool)
	for _, m := range regexp.MustCompile(`env:\s*"(LRS_[A-Z0-9_]+)"([^\n]*)`).FindAllStringSubmatch(src, -1) {
		names[m[1]] = true
		names[m[1]+"_FILE"] = strings.Contains(m[2], "secret: true") || secretBelow(src, m[0])
	}
	if !names["LRS_ADDR"] || !names["LRS_MONGODB_URI"] {
		t.Fatalf("did not find the settings in cmd/lrs (found %v)", names)
	}
	return names
}

// secretBelow reports whether the setting declared on line decl is a secret
// (secret: true may sit on the same line or the next).
func secretBelow(src, decl string) bool {
	i := strings.Index(src, decl)
	rest := src[i+len(decl):]
	if j := strings.Index(rest, "\n\t{"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Contains(rest, "secret: true")
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"mongo-1", "mongo-2", "mongo-3", "mongo-init", "lrs-1", "lrs-2", "prometheus"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml lacks the service %s", name)
		}
	}
	if got := lrsServices(t, c); len(got) < 2 {
		t.Errorf("compose.yaml runs %d lrs replicas (%v), want at least 2", len(got), got)
	}
	for _, name := range []string{"mongo-1", "mongo-2", "mongo-3"} {
		if cmd := toString(c.Services[name].Command); !strings.Contains(cmd, "--replSet") || !strings.Contains(cmd, "rs0") {
			t.Errorf("%s does not run mongod as a member of replica set rs0: %s", name, cmd)
		}
	}
}

func TestComposeLRSEnvironment(t *testing.T) {
	c := loadCompose(t)
	known := settings(t)
	for _, name := range lrsServices(t, c) {
		s := c.Services[name]
		env := s.env(t)
		for k := range env {
			if _, ok := known[k]; !ok || (strings.HasSuffix(k, "_FILE") && !known[k]) {
				t.Errorf("%s: environment variable %s is not an lrs setting (cmd/lrs)", name, k)
			}
		}
		uri := env["LRS_MONGODB_URI"]
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "mongodb" {
			t.Errorf("%s: LRS_MONGODB_URI %q is not a mongodb:// URI (%v)", name, uri, err)
			continue
		}
		if u.Query().Get("replicaSet") != "rs0" {
			t.Errorf("%s: LRS_MONGODB_URI %q does not name the replica set rs0", name, uri)
		}
		for _, host := range strings.Split(u.Host, ",") {
			h, port, _ := strings.Cut(host, ":")
			if _, ok := c.Services[h]; !ok || port != "27017" {
				t.Errorf("%s: LRS_MONGODB_URI host %q is not a compose service on port 27017", name, host)
			}
		}
		if env["LRS_MONGODB_DATABASE"] == "" {
			t.Errorf("%s: LRS_MONGODB_DATABASE is not set", name)
		}
		if addr := env["LRS_ADDR"]; addr != "" && !strings.HasSuffix(addr, ":8080") {
			t.Errorf("%s: LRS_ADDR %q does not listen on 8080", name, addr)
		}
		if cond := s.dependsOn()["mongo-init"]; cond != "service_completed_successfully" {
			t.Errorf("%s: depends on mongo-init with condition %q, want service_completed_successfully", name, cond)
		}
		if !slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":8080") }) {
			t.Errorf("%s: ports %v do not publish the container port 8080", name, s.Ports)
		}
	}
}

func TestComposeHealthcheck(t *testing.T) {
	c := loadCompose(t)
	entrypoint := dockerfileEntrypoint(t)
	for _, name := range lrsServices(t, c) {
		hc := c.Services[name].Healthcheck
		test, ok := hc["test"].([]any)
		if !ok {
			t.Errorf("%s: healthcheck test %v is not an exec-form list (the image has no shell)", name, hc["test"])
			continue
		}
		var args []string
		for _, a := range test {
			args = append(args, toString(a))
		}
		want := []string{"CMD", entrypoint, "--probe", "http://127.0.0.1:8080/readyz"}
		if !slices.Equal(args, want) {
			t.Errorf("%s: healthcheck test %q, want %q", name, args, want)
		}
	}
}

func TestPrometheusTargets(t *testing.T) {
	c := loadCompose(t)
	var p prometheusConfig
	if err := yaml.Unmarshal(read(t, "prometheus.yml"), &p); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	var targets []string
	for _, sc := range p.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s, want /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	var want []string
	for _, name := range lrsServices(t, c) {
		want = append(want, name+":8080")
	}
	slices.Sort(targets)
	if !slices.Equal(targets, want) {
		t.Errorf("prometheus targets %v, want every lrs service on port 8080: %v", targets, want)
	}
	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("no prometheus service")
	}
	if !slices.ContainsFunc(prom.Volumes, func(v string) bool {
		return strings.HasPrefix(v, "./prometheus.yml:/etc/prometheus/prometheus.yml")
	}) {
		t.Errorf("the prometheus service does not mount ./prometheus.yml: %v", prom.Volumes)
	}
}

// dockerfile returns the Dockerfile's instructions (continuation lines
// joined, comments dropped), grouped by stage.
func dockerfile(t *testing.T) [][]string {
	t.Helper()
	var stages [][]string
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before the first FROM", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	for _, line := range strings.Split(string(read(t, "Dockerfile")), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func dockerfileEntrypoint(t *testing.T) string {
	t.Helper()
	stages := dockerfile(t)
	final := stages[len(stages)-1]
	for _, ins := range final {
		if rest, ok := strings.CutPrefix(ins, "ENTRYPOINT "); ok {
			rest = strings.Trim(rest, "[] ")
			first, _, _ := strings.Cut(rest, ",")
			return strings.Trim(first, `" `)
		}
	}
	t.Fatal("the final stage has no ENTRYPOINT")
	return ""
}

func TestDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(stages))
	}
	has := func(stage []string, prefix string, parts ...string) bool {
		return slices.ContainsFunc(stage, func(ins string) bool {
			if !strings.HasPrefix(ins, prefix) {
				return false
			}
			for _, p := range parts {
				if !strings.Contains(ins, p) {
					return false
				}
			}
			return true
		})
	}
	build := slices.Concat(stages[:len(stages)-1]...)
	if !has(build, "RUN ", "CGO_ENABLED=0", "go build", "./cmd/lrs") && !(has(build, "ENV ", "CGO_ENABLED=0") && has(build, "RUN ", "go build", "./cmd/lrs")) {
		t.Error("no build stage runs go build ./cmd/lrs with CGO_ENABLED=0")
	}
	final := stages[len(stages)-1]
	from := final[0]
	if !strings.Contains(from, "gcr.io/distroless/") || !strings.Contains(from, ":nonroot") {
		t.Errorf("final stage %q is not a distroless nonroot image", from)
	}
	if !has(final, "EXPOSE ", "8080") {
		t.Error("the final stage does not EXPOSE 8080")
	}
	if has(final, "USER ", "root") && !has(final, "USER ", "nonroot") || has(final, "USER 0") {
		t.Error("the final stage runs as root")
	}
	entrypoint := dockerfileEntrypoint(t)
	if !has(final, "COPY ", "--from=", entrypoint) {
		t.Errorf("the final stage does not copy the binary to its ENTRYPOINT %s", entrypoint)
	}
}
