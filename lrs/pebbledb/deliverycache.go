package pebbledb

import (
	"sync"

	"github.com/lrs-project/lrs/forward"
)

// deliveryCacheMax bounds the records deliveryCache holds: at about 400
// bytes each (key, encoded record, map entry; measured with UUID ids),
// 32,768 pending deliveries (a burst, or a backlog behind a failing
// destination) take about 13 MB.
const deliveryCacheMax = 32 << 10

// deliveryCache holds the stored records of pending deliveries, encoded
// as they are in the store, by fd/ key, as this process last wrote them:
// a claim and the settle after the send decode a delivery from here
// instead of seeking it in the store (through every level, and for a
// record flushed since it was written, reading its block from disk: twice
// per forwarded statement).
//
// Only one process can have the store open, and every write of a delivery
// record is this process's, under the stripe lock of its fd/ key
// (lockIDs): each writer records here what it committed (putDelivery's
// recWrites), after the commit and still under the lock, so a reader that
// holds the lock finds either the stored record or nothing. A record that
// is not pending (delivered, rejected, skipped, parked) is dropped, as no
// claim reads it. Without an entry a reader reads the store: new records
// are not kept while the cache is full, and Open starts with none.
//
// The records are kept encoded (one pointer-free slice each, which the
// garbage collector does not scan) and, as in the store, without a lease:
// leases live in leaseTable, and a reader overlays the lease as it does
// on a record read from the store.
type deliveryCache struct {
	mu  sync.Mutex
	m   map[string][]byte
	max int // 0: deliveryCacheMax
}

// recWrite is one delivery record a batch writes (putDelivery).
type recWrite struct {
	key     string
	val     []byte
	pending bool
}

// get returns the record of key if it is kept. Under key's stripe lock.
func (c *deliveryCache) get(key string) (forward.Delivery, bool, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		return forward.Delivery{}, false, nil
	}
	dl, err := decodeDelivery(v)
	return dl, true, err
}

// has reports whether the record of key is kept. Under key's stripe lock.
func (c *deliveryCache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[key]
	return ok
}

// wrote records the writes ws committed, in their order: a pending
// record is kept (while there is room), any other dropped. Under the
// stripe locks of their keys, after the commit.
func (c *deliveryCache) wrote(ws []recWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	max := c.max
	if max == 0 {
		max = deliveryCacheMax
	}
	for _, w := range ws {
		if !w.pending {
			delete(c.m, w.key)
			continue
		}
		if _, ok := c.m[w.key]; !ok && len(c.m) >= max {
			continue
		}
		if c.m == nil {
			c.m = make(map[string][]byte)
		}
		c.m[w.key] = w.val
	}
}

// len is the number of records kept (for tests).
func (c *deliveryCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
