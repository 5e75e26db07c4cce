package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/auth"
	"github.com/lrs-project/lrs/lrs/pebbledb"
)

// TestAdminOpenAPIInSync checks admin_openapi.json against the routes
// mounted under /admin/v1 and the JSON shapes of the handlers.
func TestAdminOpenAPIInSync(t *testing.T) {
	db, err := pebbledb.Open(t.TempDir(), pebbledb.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	key, err := auth.LoadIdentityKey(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.NewIdentity(db, key, auth.IdentityOptions{Password: auth.PasswordParams{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.mountAdmin(e, &AdminOptions{Token: strings.Repeat("t", MinAdminTokenLen), Store: db, Identity: id}, nil); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range e.Routes() {
		p, ok := strings.CutPrefix(r.Path, AdminPrefix)
		if !ok {
			continue
		}
		segs := strings.Split(p, "/")
		for i, sg := range segs {
			if strings.HasPrefix(sg, ":") {
				segs[i] = "{" + sg[1:] + "}"
			}
		}
		routes = append(routes, r.Method+" "+strings.Join(segs, "/"))
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(adminOpenAPI, &doc); err != nil {
		t.Fatalf("admin_openapi.json: %v", err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in admin_openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("admin_openapi.json documents %s, which is not served", d)
		}
	}
	for name, v := range map[string]any{
		"Org": orgJSON{}, "OrgCreate": orgCreateRequest{}, "OrgUpdate": orgUpdateRequest{},
		"Credential": credentialJSON{}, "CredentialCreate": credentialCreateRequest{}, "CredentialUpdate": credentialUpdateRequest{},
		"Configuration": configurationJSON{}, "ConfigurationWrite": configurationRequest{}, "ConfigurationStatus": statusJSON{},
		"Objective": objectiveJSON{}, "ObjectiveWrite": objectiveRequest{}, "TestResult": testJSON{}, "Preview": previewJSON{}, "KeptFile": fileJSON{},
		"Delivery": deliveryJSON{}, "Attempt": attemptJSON{},
		"Account": accountJSON{}, "AccountCreate": accountCreateRequest{}, "AccountUpdate": accountUpdateRequest{},
		"Session": sessionJSON{}, "SignIn": signInRequest{}, "SignedOut": signedOutJSON{},
		"Invitation": invitationJSON{}, "InvitationCreate": invitationCreateRequest{}, "InvitationAccept": invitationAcceptRequest{},
		"ResetRequest": resetRequest{}, "ResetConfirm": resetConfirmRequest{},
		"Result": resultJSON{}, "ResultValues": valuesJSON{}, "Actor": actorJSON{}, "Override": overrideJSON{},
		"OverrideEvent": overrideEventJSON{}, "OverrideWrite": overrideRequest{}, "Score": scoreJSON{},
	} {
		sc, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var fields, props []string
		var add func(rt reflect.Type)
		add = func(rt reflect.Type) {
			for i := 0; i < rt.NumField(); i++ {
				f := rt.Field(i)
				if f.Anonymous { // embedded: its fields are the parent's
					add(f.Type)
					continue
				}
				n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if n != "" && n != "-" {
					fields = append(fields, n)
				}
			}
		}
		add(reflect.TypeOf(v))
		for p := range sc.Properties {
			props = append(props, p)
		}
		slices.Sort(fields)
		slices.Sort(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s has properties %q; the Go type has %q", name, props, fields)
		}
	}
}
