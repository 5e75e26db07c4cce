package postback_test

import (
	"testing"

	"github.com/lrs-project/lrs/forward/postback"
)

// BenchmarkBuild renders one postback request (the JSON and its form
// encoding), what every send costs before the network.
func BenchmarkBuild(b *testing.B) {
	for _, tc := range []struct{ auth, format string }{{"form", "course"}, {"httpbasic", "full"}} {
		b.Run(tc.auth+"/"+tc.format, func(b *testing.B) {
			p, err := postback.New(map[string]string{"url": "https://lms.example.com/pb", "authType": tc.auth, "resultsFormat": tc.format},
				map[string]string{"userName": "u", "password": "pw"}, postback.Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := fixture()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Build(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
