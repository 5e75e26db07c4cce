package forward

import (
	"encoding/json"
	"reflect"
	"testing"
)

// readStmtFields reads what json.Unmarshal reads into stmtFields, on
// statements that trip a scan: escapes, the same names in nested objects
// and strings, sub-statements, spaces, case, duplicates, nulls; and fails
// where the decode fails on the members it reads.
func TestReadStmtFieldsIsTheDecode(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"plain", `{"id":"s","actor":{"objectType":"Agent","mbox":"mailto:a@example.com"},"verb":{"id":"urn:v","display":{"en":"v"}},"object":{"id":"urn:o","objectType":"Activity"}}`},
		{"account", `{"actor":{"account":{"homePage":"https://h","name":"ada"}},"verb":{"id":"urn:v"},"object":{"id":"urn:o"}}`},
		{"spaces", " {\n\t\"actor\" : {\r\n \"mbox\" :\"mailto:b@example.com\" } ,\"verb\":{ \"id\" : \"urn:v\" } , \"object\" : {\"id\":\"urn:o\"}\n} "},
		{"escapes in values", `{"actor":{"mbox":"mailto:\u0061@example.com"},"verb":{"id":"urn:\"v\"\\"},"object":{"id":"http://example.com/\u00e9t\u00e9"}}`},
		{"escaped keys", `{"\u0061ctor":{"mb\u006fx":"mailto:c@example.com"},"v\u0065rb":{"\u0069d":"urn:v"},"object":{"objectT\u0079pe":"Activity","id":"urn:o"}}`},
		{"names in other places", `{"context":{"actor":{"mbox":"mailto:no@example.com"},"extensions":{"urn:x":{"verb":{"id":"urn:no"}}}},"result":{"response":"\"object\":{\"id\":\"urn:no\"}"},"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:sub@example.com"},"verb":{"id":"urn:sub"},"object":{"id":"urn:subobj"}},"actor":{"mbox":"mailto:d@example.com"},"verb":{"id":"urn:v"}}`},
		{"statement ref", `{"actor":{"mbox":"mailto:e@example.com"},"verb":{"id":"urn:v"},"object":{"objectType":"StatementRef","id":"8f87ccde-bb56-4c2e-ab83-44982ef22df0"}}`},
		{"case", `{"Actor":{"MBOX":"mailto:f@example.com","Account":{"NAME":"n"}},"VERB":{"Id":"urn:v"},"Object":{"ID":"urn:o","OBJECTTYPE":"Activity"}}`},
		{"duplicates: the later wins, objects merge", `{"actor":{"mbox":"mailto:g@example.com"},"actor":{"account":{"name":"n"}},"verb":{"id":"urn:a"},"verb":{"id":"urn:b"},"object":{"id":"urn:o"}}`},
		{"nulls", `{"actor":{"mbox":null,"account":null},"verb":null,"object":{"id":null,"objectType":null}}`},
		{"account null after one", `{"actor":{"account":{"name":"n"},"account":null}}`},
		{"non-ASCII", `{"actor":{"mbox":"mailto:zoë@例え.jp"},"verb":{"id":"urn:v","display":{"ja":"合格"}},"object":{"id":"urn:ü"}}`},
		{"empty", `{}`},
		{"other members of every type", `{"a":[1,[2,{"b":"}"}]],"n":-1.5e3,"t":true,"f":false,"z":null,"actor":{"x":[],"mbox":"mailto:h@example.com"}}`},
	} {
		var want stmtFields
		if err := json.Unmarshal([]byte(tc.raw), &want); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got stmtFields
		if err := readStmtFields([]byte(tc.raw), &got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %+v, the decode %+v", tc.name, got, want)
		}
	}
	for _, bad := range []string{
		`[]`, `"x"`, ``, `{"actor":"x"}`, `{"actor":{"mbox":5}}`, `{"actor":{"account":[]}}`, `{"actor":{"account":{"name":true}}}`,
		`{"verb":{"id":{}}}`, `{"object":{"id":1}}`, `{"object":[]}`, `{"actor":{"mbox":"x"}`, `{"verb" {"id":"x"}}`,
	} {
		var f stmtFields
		if json.Unmarshal([]byte(bad), &f) == nil {
			t.Fatalf("%s: the decode takes it", bad)
		}
		if err := readStmtFields([]byte(bad), &f); err == nil {
			t.Errorf("readStmtFields(%s) = %+v, want an error", bad, f)
		}
	}
}

func BenchmarkReadStmtFields(b *testing.B) {
	raw := []byte(`{"id":"7fa459ea-ee8a-4ca4-894e-db77e1603500","actor":{"objectType":"Agent","mbox":"mailto:fb-1@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed","display":{"en-US":"passed"}},"object":{"id":"http://example.com/bench/forward/quiz","objectType":"Activity","definition":{"name":{"en-US":"Bench quiz"}}},"result":{"score":{"scaled":0.5},"success":true},"timestamp":"2026-12-04T10:00:00.123Z","stored":"2026-12-04T10:00:00.123Z","authority":{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"fb-up-key"}},"version":"1.0.3"}`)
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			var f stmtFields
			if err := readStmtFields(raw, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var f stmtFields
			if err := json.Unmarshal(raw, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
