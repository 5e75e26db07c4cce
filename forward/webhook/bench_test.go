package webhook_test

import (
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook"
)

// BenchmarkBuild renders, signs and envelopes requests: the CPU a
// delivery costs before the network.
func BenchmarkBuild(b *testing.B) {
	at := time.Unix(1788336899, 0)
	for _, bc := range []struct {
		name string
		n    int
	}{{"immediate", 1}, {"batch100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := webhook.LookupPreset("generic")
			c := p.Config
			c.URL = "https://ams.example.org/hooks"
			if bc.n > 1 {
				c.Mode, c.MaxItems = webhook.ModeBatch, bc.n
			}
			w, err := webhook.New("cfg", "AMS", c, webhook.Secrets{SigningSecret: secret}, webhook.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ins := make([]webhook.Input, bc.n)
			for i := range ins {
				ins[i] = input(string(rune('a'+i%26)) + string(rune('0'+i/26)))
			}
			b.ReportAllocs()
			for b.Loop() {
				if req, rej := w.Build(ins, at); req == nil || len(rej) > 0 {
					b.Fatal(rej)
				}
			}
		})
	}
}
