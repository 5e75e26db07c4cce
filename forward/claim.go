package forward

import (
	"context"
	"fmt"
	"sync"
)

// Claiming: one round takes the due deliveries (leased), groups them by
// configuration and hands each group to a worker.

// tick sends with sendCtx; claimCtx done means claim nothing.
func (e *Engine) tick(sendCtx, claimCtx context.Context) (int, error) {
	now := e.opts.Now()
	e.housekeeping(sendCtx, now)
	if claimCtx.Err() != nil {
		return 0, nil
	}
	ds, err := e.store.ClaimDeliveries(sendCtx, e.opts.Owner, now, e.opts.Lease, e.opts.ClaimLimit)
	if err != nil {
		return 0, fmt.Errorf("claim: %w", err)
	}
	var order []cfgKey
	groups := make(map[cfgKey][]Delivery)
	for _, d := range ds {
		k := cfgKey{d.Org, d.ConfigurationID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	sem := make(chan struct{}, e.opts.Workers)
	var wg sync.WaitGroup
	for _, k := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.process(sendCtx, k, groups[k])
		})
	}
	wg.Wait()
	return len(ds), nil
}
