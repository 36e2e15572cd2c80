package main

import (
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"time"
)

// sample is one measured run of one tool in one scenario.
type sample struct {
	dur      time.Duration
	requests requestCounts // API (or Git HTTP) requests
	// peakMem is, for in-process tools, the peak of the Go heap (objects,
	// live and not yet collected) during the run above what was live before
	// it; for external commands, the peak resident set size of the largest
	// process of the command.
	peakMem uint64
	// alloc is the bytes allocated on the Go heap during the run
	// (in-process tools only).
	alloc   uint64
	extProc bool // peakMem is an RSS of an external process
}

// memSampler samples the Go heap while an in-process run goes on.
type memSampler struct {
	stop     chan struct{}
	done     sync.WaitGroup
	base     uint64
	peak     uint64
	alloc0   uint64
	samples  []metrics.Sample
	interval time.Duration
}

const (
	metricHeapObjects = "/memory/classes/heap/objects:bytes"
	metricAllocs      = "/gc/heap/allocs:bytes"
)

func startMem() *memSampler {
	runtime.GC()
	m := &memSampler{stop: make(chan struct{}), interval: 2 * time.Millisecond}
	m.samples = []metrics.Sample{{Name: metricHeapObjects}, {Name: metricAllocs}}
	metrics.Read(m.samples)
	m.base = m.samples[0].Value.Uint64()
	m.peak = m.base
	m.alloc0 = m.samples[1].Value.Uint64()
	m.done.Go(func() {
		s := []metrics.Sample{{Name: metricHeapObjects}}
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				metrics.Read(s)
				if v := s[0].Value.Uint64(); v > m.peak {
					m.peak = v
				}
			}
		}
	})
	return m
}

// end stops sampling and returns the peak heap above the base and the bytes
// allocated since start.
func (m *memSampler) end() (peak, alloc uint64) {
	close(m.stop)
	m.done.Wait()
	metrics.Read(m.samples)
	if v := m.samples[0].Value.Uint64(); v > m.peak {
		m.peak = v
	}
	return m.peak - m.base, m.samples[1].Value.Uint64() - m.alloc0
}

// measureInProcess times fn and samples the heap while it runs.
func measureInProcess(fn func() error) (sample, error) {
	m := startMem()
	t0 := time.Now()
	err := fn()
	d := time.Since(t0)
	peak, alloc := m.end()
	return sample{dur: d, peakMem: peak, alloc: alloc}, err
}

// stats summarizes the kept samples of one (scenario, tool) cell.
type stats struct {
	n                int
	median, min, max time.Duration
	requests         requestCounts // of the median run
	peakMem, alloc   uint64        // medians
	extProc          bool
	minReqs, maxReqs int
	requestsVary     bool
	durations        []time.Duration
}

func summarize(samples []sample) stats {
	if len(samples) == 0 {
		return stats{}
	}
	s := stats{n: len(samples), extProc: samples[0].extProc}
	idx := make([]int, len(samples))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(samples[a].dur - samples[b].dur) })
	mid := idx[len(idx)/2]
	if len(idx)%2 == 0 { // lower middle for the request counts; the median duration is the mean of the two
		mid = idx[len(idx)/2-1]
		s.median = (samples[idx[len(idx)/2-1]].dur + samples[idx[len(idx)/2]].dur) / 2
	} else {
		s.median = samples[mid].dur
	}
	s.min, s.max = samples[idx[0]].dur, samples[idx[len(idx)-1]].dur
	s.requests = samples[mid].requests
	var mems, allocs []uint64
	s.minReqs, s.maxReqs = -1, 0
	for _, x := range samples {
		mems = append(mems, x.peakMem)
		allocs = append(allocs, x.alloc)
		t := x.requests.total()
		if s.minReqs < 0 || t < s.minReqs {
			s.minReqs = t
		}
		if t > s.maxReqs {
			s.maxReqs = t
		}
		s.durations = append(s.durations, x.dur)
	}
	s.requestsVary = s.minReqs != s.maxReqs
	s.peakMem = medianU(mems)
	s.alloc = medianU(allocs)
	return s
}

func medianU(v []uint64) uint64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
