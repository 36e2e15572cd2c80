package apply

import (
	"context"
	"sync"
)

// forEach calls fn(ctx, i) for i in [0, n), at most limit at a time, and
// returns when all calls returned. fn must itself honour ctx.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	if limit <= 0 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, i)
		})
	}
	wg.Wait()
}
