package api

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// bodyDeadline gives the body of a request timeout to arrive, counted from
// the end of its headers (http.Server's ReadHeaderTimeout bounds those): a
// client that declares a body and sends it slowly, or not at all, loses
// its connection instead of holding it. The deadline is lifted once the
// body has been read, so that a long handler is not cut short.
//
// http.Server's ReadTimeout is not used for this because it stays set
// while the handler runs, and its expiry cancels the request's context.
func bodyDeadline(next http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			next.ServeHTTP(w, r) // not a connection that takes deadlines (HTTP/2, a recorder)
			return
		}
		// A shallow copy: the server keeps its own body, to tell after the
		// handler how much of it is left.
		r = r.WithContext(r.Context())
		r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read to its
// end. A body read only in part keeps the deadline, which then also bounds
// the server's discarding of the rest.
type deadlineBody struct {
	io.ReadCloser
	lift func()
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

// closeUnreadBody makes the answer to a request refused before its body
// was read the last on its connection, and lets no more of the body be
// read. Otherwise the server would read the rest of the body (up to 256
// KiB) to keep the connection, before answering and again after: a client
// that declares a body it never sends would hold the connection as long as
// the body deadline.
func closeUnreadBody(c *gin.Context) {
	if c.Request.ContentLength == 0 {
		return
	}
	c.Header("Connection", "close")
	// A deadline in the past fails every further read of the body at once;
	// writing the answer is not affected.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now())
}
