package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs/api"
)

// The forwarding endpoints know the destination types only through the
// registry they are given: these two exist only here. (The binary's own
// types, with a real downstream, are tested in cmd/lrs.)
func TestForwardAdminReadsTheRegistry(t *testing.T) {
	fake := func(name string, sink forward.SinkKind) forward.Type {
		return forward.Type{
			Name: name, Sink: sink, Description: "the " + name + " destination", Target: "url",
			Properties: []forward.Field{
				{Name: "url", Required: true, Description: "where to send"},
				{Name: "mode", Enum: []string{"fast", "slow"}, Default: "fast", Description: "how"},
			},
			Secrets: []forward.Field{{Name: "token", Description: "the bearer token"}},
			Validate: func(props, secrets map[string]string) []string {
				if secrets["token"] == "" {
					return []string{"secrets.token: is required"}
				}
				return nil
			},
			Factory: func(forward.Configuration, map[string]string) (forward.Destination, error) { return nil, nil },
		}
	}
	types := forwardtest.Registry(t, fake("alpha", forward.SinkAppend), fake("beta", forward.SinkOverwrite))
	db := openPebble(t)
	sealer, err := forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, db, time.Minute, func(o *api.Options) {
		o.Admin.Forward = forward.NewAdmin(db, types, forward.AdminOptions{Sealer: sealer})
	})
	n.admin("POST", api.AdminPrefix+"/orgs", `{"id":"org-a","name":"A"}`, 201, nil)
	path := api.AdminPrefix + "/orgs/org-a/configurations"

	b := string(n.admin("POST", path, `{"name":"x","contact_email":"ops@example.com","type":"xapi","properties":{}}`, 400, nil))
	if !strings.Contains(b, `type: \"xapi\": want one of alpha, beta`) {
		t.Errorf("an unregistered type: %s", b)
	}
	b = string(n.admin("POST", path, `{"name":"x","contact_email":"ops@example.com","type":"beta","properties":{"mode":"warp","colour":"red"}}`, 400, nil))
	for _, want := range []string{"properties.url: is required", `properties.mode: \"warp\": want fast or slow`, "properties.colour: unknown property", "secrets.token: is required"} {
		if !strings.Contains(b, want) {
			t.Errorf("400 lacks %q: %s", want, b)
		}
	}
	var cf struct {
		ID, Type   string
		Properties map[string]string
		SecretsSet bool `json:"secrets_set"`
	}
	n.admin("POST", path, `{"name":"x","contact_email":"ops@example.com","type":"beta","properties":{"url":"https://b.example"},"secrets":{"token":"t0k3n-value"}}`, 201, &cf)
	if cf.Type != "beta" || cf.Properties["url"] != "https://b.example" || !cf.SecretsSet {
		t.Errorf("created: %+v", cf)
	}
	if stored, err := db.GetConfiguration(context.Background(), "org-a", cf.ID); err != nil || strings.Contains(string(stored.SealedSecret), "t0k3n-value") {
		t.Errorf("stored: %v, sealed %q", err, stored.SealedSecret)
	}

	// The OpenAPI document lists the registered types and their fields.
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties struct {
					Type struct{ Enum []string }
				}
				XTypes map[string]struct {
					Sink       string
					Properties struct {
						Properties map[string]struct{ Enum []string }
						Required   []string
					}
					Secrets struct {
						Properties map[string]json.RawMessage
					}
				} `json:"x-destination-types"`
			}
		}
	}
	n.admin("GET", api.AdminPrefix+"/openapi.json", "", 200, &doc)
	for _, name := range []string{"Configuration", "ConfigurationWrite"} {
		if got := doc.Components.Schemas[name].Properties.Type.Enum; !slices.Equal(got, []string{"alpha", "beta"}) {
			t.Errorf("%s.type enum = %v, want [alpha beta]", name, got)
		}
	}
	xt := doc.Components.Schemas["ConfigurationWrite"].XTypes
	if len(xt) != 2 || xt["alpha"].Sink != "append" || xt["beta"].Sink != "overwrite" ||
		!slices.Equal(xt["beta"].Properties.Required, []string{"url"}) || !slices.Equal(xt["beta"].Properties.Properties["mode"].Enum, []string{"fast", "slow"}) ||
		xt["beta"].Secrets.Properties["token"] == nil {
		t.Errorf("x-destination-types = %+v", xt)
	}
}
