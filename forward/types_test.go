package forward_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lrs-project/lrs/forward"
)

func nopFactory(forward.Configuration, map[string]string) (forward.Destination, error) {
	return nil, nil
}

func TestNewRegistryRefusesBadTypes(t *testing.T) {
	good := forward.Type{Name: "lms-1", Sink: forward.SinkAppend, Factory: nopFactory, Target: "url",
		Properties: []forward.Field{{Name: "url"}}, Secrets: []forward.Field{{Name: "token"}}}
	if r, err := forward.NewRegistry(good); err != nil || !slices.Equal(r.Names(), []string{"lms-1"}) {
		t.Fatalf("a good type: %v, %v", r, err)
	}
	for name, tc := range map[string][]forward.Type{
		"no name":        {{Sink: forward.SinkAppend, Factory: nopFactory}},
		"bad name":       {{Name: "Big Name", Sink: forward.SinkAppend, Factory: nopFactory}},
		"twice":          {good, good},
		"no sink":        {{Name: "a", Factory: nopFactory}},
		"no factory":     {{Name: "a", Sink: forward.SinkOverwrite}},
		"repeated field": {{Name: "a", Sink: forward.SinkAppend, Factory: nopFactory, Properties: []forward.Field{{Name: "x"}}, Secrets: []forward.Field{{Name: "x"}}}},
		"target missing": {{Name: "a", Sink: forward.SinkAppend, Factory: nopFactory, Target: "url"}},
	} {
		if _, err := forward.NewRegistry(tc...); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
}

func TestTypeCheckFromTheFields(t *testing.T) {
	typ := forward.Type{
		Name: "t", Sink: forward.SinkOverwrite, Factory: nopFactory,
		Properties: []forward.Field{{Name: "url", Required: true}, {Name: "mode", Enum: []string{"a", "b", "c"}}},
		Secrets:    []forward.Field{{Name: "id", AlsoProperty: true}, {Name: "token"}},
		Validate: func(props, secrets map[string]string) []string {
			if props["mode"] == "c" && secrets["token"] == "" {
				return []string{"secrets.token: is required in mode c"}
			}
			return nil
		},
	}
	if errs := typ.Check(map[string]string{"url": "u", "id": "me"}, map[string]string{"token": "x"}); errs != nil {
		t.Errorf("valid: %q", errs)
	}
	errs := strings.Join(typ.Check(map[string]string{"mode": "z", "token": "x", "colour": "red"}, map[string]string{"pin": "1"}), "\n")
	for _, want := range []string{
		"properties.token: is a secret: put it in secrets",
		"properties.colour: unknown property (want url, mode, id)",
		"secrets.pin: unknown secret (want id, token)",
		"properties.url: is required",
		`properties.mode: "z": want a, b or c`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("lacks %q:\n%s", want, errs)
		}
	}
	if errs := typ.Check(map[string]string{"url": "u", "mode": "c"}, nil); !slices.Equal(errs, []string{"secrets.token: is required in mode c"}) {
		t.Errorf("the type's own rule: %q", errs)
	}
}

func TestRegistryChecksHowFieldsAreShown(t *testing.T) {
	base := func(f forward.Field) forward.Type {
		return forward.Type{Name: "a", Sink: forward.SinkAppend, Factory: nopFactory,
			Properties: []forward.Field{{Name: "auth", Enum: []string{"basic", "oauth2"}}, f}}
	}
	if _, err := forward.NewRegistry(base(forward.Field{Name: "key", Kind: forward.KindMultiline,
		When: &forward.Condition{Property: "auth", Values: []string{"", "basic"}}})); err != nil {
		t.Errorf("a good field: %v", err)
	}
	for name, f := range map[string]forward.Field{
		"unknown kind":      {Name: "x", Kind: "colour"},
		"unknown property":  {Name: "x", When: &forward.Condition{Property: "mode", Values: []string{"a"}}},
		"itself":            {Name: "x", When: &forward.Condition{Property: "x", Values: []string{"a"}}},
		"no value":          {Name: "x", When: &forward.Condition{Property: "auth"}},
		"value not in enum": {Name: "x", When: &forward.Condition{Property: "auth", Values: []string{"bearer"}}},
	} {
		if _, err := forward.NewRegistry(base(f)); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
	c := &forward.Condition{Property: "auth", Values: []string{"", "basic"}}
	if !c.Holds(nil) || !c.Holds(map[string]string{"auth": "basic"}) || c.Holds(map[string]string{"auth": "oauth2"}) {
		t.Error("Condition.Holds")
	}
	if (*forward.Condition)(nil).Holds(map[string]string{"auth": "oauth2"}) != true {
		t.Error("no condition: the field always applies")
	}
}
