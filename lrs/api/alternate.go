package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// Alternate request syntax (xAPI 1.0.3 Communication §1.3): a POST with
// ?method=X and a form-encoded body whose fields stand for headers, the
// content and the query parameters. The request is rebuilt before routing,
// so the handlers never see the alternate form. When the request cannot be
// rebuilt (xAPI 2.0, extra query parameters, a bad form), it is routed as
// is and the error is answered after authentication by alternateError.

type altErrKey struct{}

// altHeaders are the form fields that stand for headers, by canonical
// header key.
var altHeaders = map[string]bool{}

func init() {
	for _, h := range []string{"Authorization", headerVersion, "Content-Type", "Content-Length", "If-Match", "If-None-Match"} {
		altHeaders[http.CanonicalHeaderKey(h)] = true
	}
}

var altMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPut: true,
	http.MethodPost: true, http.MethodDelete: true,
}

func (s *server) alternateSyntax(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !s.underRoot(r.URL.Path) || !r.URL.Query().Has("method") {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.rewriteAlternate(w, r); err != nil {
			r = r.WithContext(context.WithValue(r.Context(), altErrKey{}, err))
		}
		next.ServeHTTP(w, r)
	})
}

// rewriteAlternate turns an alternate-syntax request into the request it
// stands for, in place. On error r is left as it was (except its body,
// which may have been consumed, and, under 2.0, the Authorization and
// version headers the form held).
func (s *server) rewriteAlternate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if len(q) != 1 || len(q["method"]) != 1 {
		return lrs.Errorf(lrs.EINVALID, "with the alternate request syntax, method must be the only query parameter")
	}
	method := strings.ToUpper(q.Get("method"))
	if !altMethods[method] {
		return lrs.Errorf(lrs.EINVALID, "method %q is not one of GET, HEAD, PUT, POST, DELETE", q.Get("method"))
	}
	if r.Header.Get("Content-Type") != "" {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return lrs.Errorf(lrs.EINVALID, "the alternate request syntax needs an application/x-www-form-urlencoded body")
		}
	}
	if r.ContentLength > s.maxBody {
		return &http.MaxBytesError{Limit: s.maxBody}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return lrs.Errorf(lrs.EINVALID, "the request body could not be read")
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return lrs.Errorf(lrs.EINVALID, "the form body is malformed")
	}

	header := r.Header.Clone()
	query := url.Values{}
	var content *string
	hasCT := false
	for k, vs := range form {
		if len(vs) == 0 {
			continue
		}
		switch ck := http.CanonicalHeaderKey(k); {
		case k == "content":
			content = &vs[0]
		case altHeaders[ck]:
			header.Set(ck, vs[0])
			hasCT = hasCT || ck == "Content-Type"
		default:
			query[k] = vs
		}
	}
	if v, err := schema.ParseVersionHeader(header.Get(headerVersion), schema.Versions); err == nil && v != schema.V1_0_3 {
		// With the credentials and version the form carries, the request
		// authenticates and the client learns what is wrong, rather than
		// getting a 401.
		for _, h := range []string{"Authorization", headerVersion} {
			if v := header.Get(h); v != "" {
				r.Header.Set(h, v)
			}
		}
		return lrs.Errorf(lrs.EINVALID, "xAPI %s removed the alternate request syntax (the method parameter): send the request with its own method, headers and body", v)
	}

	r.Method = method
	r.URL.RawQuery = query.Encode()
	r.RequestURI = r.URL.RequestURI()
	if content != nil {
		if !hasCT {
			header.Set("Content-Type", "application/json")
		}
		r.Body = io.NopCloser(strings.NewReader(*content))
		r.ContentLength = int64(len(*content))
		header.Set("Content-Length", strconv.Itoa(len(*content)))
	} else {
		if !hasCT {
			header.Del("Content-Type")
		}
		r.Body = http.NoBody
		r.ContentLength = 0
		header.Del("Content-Length")
	}
	r.Header = header
	return nil
}

// alternateError answers the error of an alternate-syntax request that
// could not be rebuilt (after authentication and the version check).
func (s *server) alternateError(c *gin.Context) {
	if err, ok := c.Request.Context().Value(altErrKey{}).(error); ok {
		s.fail(c, err)
		return
	}
	c.Next()
}
