package schema_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/schema"
)

func TestParseVersionHeader(t *testing.T) {
	tests := []struct {
		header string
		want   schema.Version
		ok     bool
	}{
		{"1.0", schema.V1_0_3, true},
		{"1.0.0", schema.V1_0_3, true},
		{"1.0.3", schema.V1_0_3, true},
		{"1.0.9", schema.V1_0_3, true},
		{"2.0", schema.V2_0_0, true},
		{"2.0.0", schema.V2_0_0, true},
		{" 2.0.0 ", schema.V2_0_0, true},
		{"", "", false},
		{"0.9.9", "", false},
		{"0.95", "", false},
		{"1.1.0", "", false},
		{"2.1.0", "", false},
		{"3.0.0", "", false},
		{"1.0.x", "", false},
		{"junk", "", false},
	}
	for _, tt := range tests {
		got, err := schema.ParseVersionHeader(tt.header, schema.Versions)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseVersionHeader(%q) = %q, %v; want %q, ok=%v", tt.header, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseVersionHeaderOfSupported(t *testing.T) {
	only103 := []schema.Version{schema.V1_0_3}
	if v, err := schema.ParseVersionHeader("1.0.1", only103); err != nil || v != schema.V1_0_3 {
		t.Errorf("1.0.1 with 1.0.3 supported = %q, %v; want 1.0.3", v, err)
	}
	for _, h := range []string{"2.0.0", "2.0", ""} {
		_, err := schema.ParseVersionHeader(h, only103)
		var se *schema.Error
		if !errors.As(err, &se) || se.Rule != "version" || !strings.HasSuffix(se.Message, "(supported: 1.0.x)") {
			t.Errorf("%q with 1.0.3 supported: %v, want a version error naming 1.0.x alone", h, err)
		}
	}
	_, err := schema.ParseVersionHeader("1.0.3", []schema.Version{schema.V2_0_0})
	if err == nil || !strings.Contains(err.Error(), `version "1.0.3" is not supported (supported: 2.0.x)`) {
		t.Errorf("1.0.3 with 2.0.0 supported: %v", err)
	}
}

func TestParseVersions(t *testing.T) {
	tests := []struct {
		in   string
		want []schema.Version
		err  string
	}{
		{"1.0.3,2.0.0", []schema.Version{schema.V1_0_3, schema.V2_0_0}, ""},
		{" 2.0.0 , 1.0.3 ", []schema.Version{schema.V1_0_3, schema.V2_0_0}, ""},
		{"1.0.3", []schema.Version{schema.V1_0_3}, ""},
		{"2.0.0", []schema.Version{schema.V2_0_0}, ""},
		{"", nil, `"" is not an xAPI version`},
		{"1.0.3,", nil, `"" is not an xAPI version`},
		{"1.0", nil, `"1.0" is not an xAPI version this LRS implements (1.0.3, 2.0.0)`},
		{"2.1.0", nil, `"2.1.0" is not an xAPI version`},
		{"1.0.3,1.0.3", nil, `"1.0.3" is listed twice`},
	}
	for _, tt := range tests {
		got, err := schema.ParseVersions(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseVersions(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseVersions(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

const base = `"actor":{"mbox":"mailto:Ada@Example.com","name":"Ada"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}}`

func mustParse(t *testing.T, body string, v schema.Version) *schema.Statement {
	t.Helper()
	st, err := schema.ParseStatement([]byte(body), v)
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return st
}

func marshal(t *testing.T, st *schema.Statement) map[string]any {
	t.Helper()
	b, err := st.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNormalization(t *testing.T) {
	body := `{"id":"AA942AB2-BFA6-4BDA-A840-E7360CE6E7EF",` + base + `,"object":{"id":"http://example.com/a"},
		"timestamp":"2024-03-14T07:09:26.535-08:00",
		"context":{"contextActivities":{"parent":{"id":"http://example.com/p"},"grouping":[{"id":"http://example.com/g"}]}}}`

	t.Run("2.0 converts timestamps to UTC and context activities to arrays", func(t *testing.T) {
		m := marshal(t, mustParse(t, body, schema.V2_0_0))
		if m["id"] != "aa942ab2-bfa6-4bda-a840-e7360ce6e7ef" {
			t.Errorf("id = %v, want lower case", m["id"])
		}
		if m["timestamp"] != "2024-03-14T15:09:26.535Z" {
			t.Errorf("timestamp = %v, want 2024-03-14T15:09:26.535Z", m["timestamp"])
		}
		ca := m["context"].(map[string]any)["contextActivities"].(map[string]any)
		if _, ok := ca["parent"].([]any); !ok {
			t.Errorf("parent = %#v, want an array", ca["parent"])
		}
	})
	t.Run("1.0.3 keeps the timestamp as sent", func(t *testing.T) {
		m := marshal(t, mustParse(t, body, schema.V1_0_3))
		if m["timestamp"] != "2024-03-14T07:09:26.535-08:00" {
			t.Errorf("timestamp = %v", m["timestamp"])
		}
	})
}

func TestErrorsNamePathAndRule(t *testing.T) {
	_, err := schema.ParseStatement([]byte(`{`+base+`,"object":{"id":"http://example.com/a","definition":{"name":{"en-US":1}}}}`), schema.V2_0_0)
	var se *schema.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *schema.Error", err)
	}
	if se.Path != `$.object.definition.name["en-US"]` || se.Rule != "wrong-type" {
		t.Errorf("path=%q rule=%q", se.Path, se.Rule)
	}

	_, err = schema.ParseStatement([]byte("{\n  \"actor\": ,\n}"), schema.V2_0_0)
	if !errors.As(err, &se) || se.Rule != "json-syntax" || se.Offset == 0 || !strings.Contains(se.Message, "byte") {
		t.Errorf("syntax error = %#v, want json-syntax with an offset", se)
	}
}

func TestBatchLimit(t *testing.T) {
	one := `{` + base + `,"object":{"id":"http://example.com/a"}}`
	body := "[" + strings.Repeat(one+",", 4) + one + "]"
	if _, _, err := schema.ParseStatements([]byte(body), schema.V2_0_0, 5); err != nil {
		t.Fatalf("5 statements with a limit of 5: %v", err)
	}
	_, _, err := schema.ParseStatements([]byte(body), schema.V2_0_0, 4)
	var se *schema.Error
	if !errors.As(err, &se) || se.Rule != "batch-size" {
		t.Errorf("err = %v, want rule batch-size", err)
	}
}

func TestEquivalent(t *testing.T) {
	stored := func(body string) []byte {
		st := mustParse(t, body, schema.V2_0_0)
		st.SetStored(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err := st.SetAuthority([]byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"k"}}`)); err != nil {
			t.Fatal(err)
		}
		if !st.HasTimestamp() {
			st.SetTimestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		st.SetVersion("2.0.0")
		b, _ := st.MarshalJSON()
		return b
	}
	const id = `"id":"aa942ab2-bfa6-4bda-a840-e7360ce6e7ef",`
	original := `{` + id + base + `,"object":{"id":"http://example.com/a","definition":{"name":{"en-US":"A"}}},"timestamp":"2024-03-14T15:09:26.535Z","result":{"score":{"scaled":0.5}}}`
	tests := []struct {
		name  string
		again string
		want  bool
	}{
		{"identical", original, true},
		{"timestamp in another zone", strings.Replace(original, "2024-03-14T15:09:26.535Z", "2024-03-14T10:09:26.535-05:00", 1), true},
		{"verb display differs", strings.Replace(original, `{"en-US":"completed"}`, `{"fr":"terminé"}`, 1), true},
		{"activity definition differs", strings.Replace(original, `"definition":{"name":{"en-US":"A"}}`, `"definition":{"name":{"en-US":"B"}}`, 1), true},
		{"mbox case differs", strings.Replace(original, "mailto:Ada@Example.com", "mailto:ada@example.com", 1), true},
		{"score serialized differently", strings.Replace(original, `"scaled":0.5`, `"scaled":5e-1`, 1), true},
		{"client sends authority and stored", strings.Replace(original, `"timestamp"`, `"stored":"2020-01-01T00:00:00Z","authority":{"mbox":"mailto:x@example.com"},"timestamp"`, 1), true},
		{"different verb", strings.Replace(original, "verbs/completed", "verbs/passed", 1), false},
		{"different result", strings.Replace(original, `"scaled":0.5`, `"scaled":0.6`, 1), false},
		{"different timestamp", strings.Replace(original, "15:09:26.535Z", "15:09:27.535Z", 1), false},
		{"result added", strings.Replace(original, `"result":{"score":{"scaled":0.5}}`, `"result":{"score":{"scaled":0.5},"success":true}`, 1), false},
	}
	st := stored(original)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eq, err := schema.Equivalent(mustParse(t, tt.again, schema.V2_0_0), st)
			if err != nil {
				t.Fatal(err)
			}
			if eq != tt.want {
				t.Errorf("Equivalent = %v, want %v", eq, tt.want)
			}
		})
	}
	t.Run("no timestamp sent: the stored one is the LRS's", func(t *testing.T) {
		noTS := `{` + id + base + `,"object":{"id":"http://example.com/a"}}`
		eq, _ := schema.Equivalent(mustParse(t, noTS, schema.V2_0_0), stored(noTS))
		if !eq {
			t.Error("a resent statement without timestamp is not equivalent to the stored one")
		}
	})
	t.Run("group members in another order", func(t *testing.T) {
		g := func(a, b string) string {
			return `{` + id + `"actor":{"objectType":"Group","member":[{"mbox":"mailto:` + a + `@example.com"},{"mbox":"mailto:` + b + `@example.com"}]},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"}}`
		}
		eq, _ := schema.Equivalent(mustParse(t, g("b", "a"), schema.V2_0_0), stored(g("a", "b")))
		if !eq {
			t.Error("member order changed equivalence")
		}
	})
}

func TestRender(t *testing.T) {
	body := `{"id":"aa942ab2-bfa6-4bda-a840-e7360ce6e7ef","actor":{"objectType":"Agent","name":"Ada","mbox":"mailto:ada@example.com"},
		"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed","fr-FR":"terminé","de":"abgeschlossen"}},
		"object":{"objectType":"Activity","id":"http://example.com/a","definition":{"name":{"en-US":"A","fr-FR":"Un"},"type":"http://example.com/t"}},
		"context":{"instructor":{"name":"Bob","account":{"homePage":"https://example.com","name":"bob"}},"contextActivities":{"parent":[{"id":"http://example.com/p","definition":{"name":{"en":"P"}}}]}}}`
	raw, _ := mustParse(t, body, schema.V2_0_0).MarshalJSON()

	t.Run("exact is unchanged", func(t *testing.T) {
		got, _ := schema.Render(raw, schema.FormatExact, nil)
		if string(got) != string(raw) {
			t.Errorf("exact changed the statement")
		}
	})
	t.Run("ids keeps identifiers only", func(t *testing.T) {
		got, err := schema.Render(raw, schema.FormatIDs, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := string(got)
		for _, gone := range []string{`"name":"Ada"`, "display", "definition", `"Bob"`} {
			if strings.Contains(s, gone) {
				t.Errorf("ids format still holds %s: %s", gone, s)
			}
		}
		for _, kept := range []string{`"mbox":"mailto:ada@example.com"`, `"id":"http://example.com/a"`, `"id":"http://example.com/p"`, `"name":"bob"`} {
			if !strings.Contains(s, kept) {
				t.Errorf("ids format lost %s: %s", kept, s)
			}
		}
	})
	t.Run("canonical keeps one language per map", func(t *testing.T) {
		got, err := schema.Render(raw, schema.FormatCanonical, schema.ParseAcceptLanguage("fr-FR;q=0.9, de;q=0.5"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(got, &m)
		display := m["verb"].(map[string]any)["display"].(map[string]any)
		if len(display) != 1 || display["fr-FR"] != "terminé" {
			t.Errorf("verb display = %v, want only fr-FR", display)
		}
		name := m["object"].(map[string]any)["definition"].(map[string]any)["name"].(map[string]any)
		if len(name) != 1 || name["fr-FR"] != "Un" {
			t.Errorf("activity name = %v, want only fr-FR", name)
		}
	})
}

func TestParseAcceptLanguage(t *testing.T) {
	got := schema.ParseAcceptLanguage("de;q=0.5, fr-CH, en;q=0.8, *;q=0.1, it;q=0")
	want := []string{"fr-CH", "en", "de", "*"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAgentKey(t *testing.T) {
	tests := []struct {
		name, agent, want string
		ok                bool
	}{
		{"mbox lower-cased", `{"mbox":"mailto:Ada@Example.com"}`, "mbox:mailto:ada@example.com", true},
		{"account", `{"objectType":"Agent","account":{"homePage":"https://example.com","name":"ada"}}`, "account:https://example.com ada", true},
		{"openid", `{"openid":"https://example.com/ada"}`, "openid:https://example.com/ada", true},
		{"sha1", `{"mbox_sha1sum":"ABCDEF0123456789ABCDEF0123456789ABCDEF01"}`, "mbox_sha1sum:abcdef0123456789abcdef0123456789abcdef01", true},
		{"identified group", `{"objectType":"Group","mbox":"mailto:team@example.com"}`, "mbox:mailto:team@example.com", true},
		{"anonymous group", `{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"}]}`, "", false},
		{"no identifier", `{"name":"Ada"}`, "", false},
		{"two identifiers", `{"mbox":"mailto:a@example.com","openid":"https://example.com/a"}`, "", false},
		{"not JSON", `{mbox}`, "", false},
		{"not an object", `"mailto:a@example.com"`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.AgentKey([]byte(tt.agent), schema.V2_0_0)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("AgentKey = %q, %v; want %q ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	body := `{"actor":{"objectType":"Group","mbox":"mailto:team@example.com","member":[{"mbox":"mailto:a@example.com"}]},
		"verb":{"id":"http://example.com/v"},
		"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:sub@example.com"},"verb":{"id":"http://example.com/v2"},"object":{"id":"http://example.com/subact"}},
		"context":{"registration":"AA942AB2-BFA6-4BDA-A840-E7360CE6E7EF","instructor":{"mbox":"mailto:teacher@example.com"},
			"contextActivities":{"parent":{"id":"http://example.com/parent"}},
			"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:ctx@example.com"}}]}}`
	r := mustParse(t, body, schema.V2_0_0).Refs()
	if !slices.Contains(r.Agents, "mbox:mailto:team@example.com") || !slices.Contains(r.Agents, "mbox:mailto:a@example.com") {
		t.Errorf("Agents = %v, want the group and its member", r.Agents)
	}
	for _, k := range []string{"mbox:mailto:sub@example.com", "mbox:mailto:teacher@example.com", "mbox:mailto:ctx@example.com", "mbox:mailto:team@example.com"} {
		if !slices.Contains(r.RelatedAgents, k) {
			t.Errorf("RelatedAgents lacks %s: %v", k, r.RelatedAgents)
		}
	}
	if slices.Contains(r.Agents, "mbox:mailto:sub@example.com") {
		t.Errorf("Agents holds a SubStatement's actor: %v", r.Agents)
	}
	if r.Activity != "" {
		t.Errorf("Activity = %q for a SubStatement object", r.Activity)
	}
	for _, a := range []string{"http://example.com/subact", "http://example.com/parent"} {
		if !slices.Contains(r.RelatedActivities, a) {
			t.Errorf("RelatedActivities lacks %s: %v", a, r.RelatedActivities)
		}
	}
	if r.Registration != "aa942ab2-bfa6-4bda-a840-e7360ce6e7ef" || r.Verb != "http://example.com/v" {
		t.Errorf("Registration=%q Verb=%q", r.Registration, r.Verb)
	}
}
