package pebbledb

import (
	"sync"

	"github.com/lrs-project/lrs/forward"
)

// leaseTable holds the claim leases of deliveries, by fd/ key, in memory
// only. Only one process can have the store open, so a lease, which only
// matters to the claimers and senders of that process, need not reach
// the WAL: a claim writes nothing (no synced commit, no due keys moved),
// and the stored delivery record and its due key never carry a lease.
// Every reader of a delivery overlays its lease from here (getDelivery,
// getDeliveries), so the forward.Store contract sees what it saw when
// leases were stored: LeaseOwner and LeaseUntil on every read, expiry,
// re-claim after expiry, ErrLeaseLost for a writer that lost its lease.
//
// A restart (Open) frees every claim, as releaseLeases did for the leases
// stores of earlier versions kept on disk: the process that held them is
// gone. An entry is changed only under the stripe lock of its fd/ key
// (lockIDs), after the commit of the write it goes with, so that a
// read-check-write of a delivery sees its lease consistently. An entry
// lives until its delivery is written without a lease (settled, re-driven,
// released) or claimed again; an expired entry is kept, as a stored lease
// was, since its owner may still settle the delivery: the table holds at
// most one entry per pending delivery ever claimed.
type leaseTable struct {
	mu sync.Mutex
	m  map[string]heldLease
}

type heldLease struct {
	owner string
	until int64 // ms
}

// overlay sets dl's lease from the table. Without an entry dl keeps what
// its record holds: nothing in a record this version wrote; the lease a
// record of an earlier version kept, which Open frees (releaseLeases)
// before any claim.
func (l *leaseTable) overlay(key string, dl *forward.Delivery) {
	l.mu.Lock()
	h, ok := l.m[key]
	l.mu.Unlock()
	if ok {
		dl.LeaseOwner, dl.LeaseUntil = h.owner, fwdMsTime(h.until)
	}
}

// heldAt reports whether key is leased at nowMs (the claim's check).
func (l *leaseTable) heldAt(key []byte, nowMs int64) bool {
	l.mu.Lock()
	h, ok := l.m[string(key)]
	l.mu.Unlock()
	return ok && h.until > nowMs
}

// store records dl's lease for key: an entry when dl has a lease owner,
// none when not. Under key's stripe lock, after the write of dl committed.
func (l *leaseTable) store(key string, dl forward.Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if dl.LeaseOwner == "" {
		delete(l.m, key)
		return
	}
	if l.m == nil {
		l.m = map[string]heldLease{}
	}
	l.m[key] = heldLease{owner: dl.LeaseOwner, until: floorMs(dl.LeaseUntil)}
}

// len is the number of entries (for tests).
func (l *leaseTable) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
