package pebbledb

import (
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// deliveryCacheMax bounds the records deliveryCache holds: at about
// 600 bytes each, 20,000 pending deliveries (a burst, or a backlog behind a
// failing destination) take about 12 MB.
const deliveryCacheMax = 20000

// deliveryCache holds the stored records of pending deliveries, by fd/
// key, as this process last wrote them: a claim and the settle after the
// send read a delivery from here instead of the store (a seek through
// every level per delivery, twice per forwarded statement).
//
// Only one process can have the store open, and every write of a delivery
// record is this process's, under the stripe lock of its fd/ key
// (lockIDs): each writer puts what it committed here after the commit,
// still under the lock, so a reader that holds the lock finds either the
// stored record or nothing. A record that is not pending (settled:
// delivered, rejected, skipped, parked) is dropped, as nothing claims it.
// Without an entry a reader reads the store: when the cache is full new
// records are not kept, and Open starts with none.
//
// Records are kept without their lease: leases live in leaseTable, and a
// reader overlays the lease as it does on a record read from the store.
type deliveryCache struct {
	mu  sync.Mutex
	m   map[string]forward.Delivery
	max int
}

// get returns the record of key if it is kept. Under key's stripe lock.
func (c *deliveryCache) get(key string) (forward.Delivery, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dl, ok := c.m[key]
	return dl, ok
}

// wrote records that rec is now the stored record of key: kept while
// pending (and while there is room), dropped otherwise. Under key's
// stripe lock, after the commit of the write.
func (c *deliveryCache) wrote(key string, rec forward.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec.State != forward.StatePending {
		delete(c.m, key)
		return
	}
	max := c.max
	if max == 0 {
		max = deliveryCacheMax
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= max {
		return
	}
	if c.m == nil {
		c.m = make(map[string]forward.Delivery)
	}
	normDelivery(&rec)
	rec.LeaseOwner, rec.LeaseUntil = "", time.Time{}
	c.m[key] = rec
}

// len is the number of records kept (for tests).
func (c *deliveryCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
