package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/gitopskit/gitopskit/cluster"
)

// LabelLedger labels the pages of a [Ledger] with the ledger's name.
const LabelLedger = "gitopskit.io/inventory-ledger"

// listPageSize is how many pages one LIST request asks for.
const listPageSize = 500

// ledgerFormat is the version of a page's serialised form.
const ledgerFormat = 1

// LedgerOptions configure a [Ledger].
type LedgerOptions struct {
	// Name of the ledger: its pages are the Secrets "<Name>.inventory-<n>"
	// labelled [LabelLedger]=<Name>. Required; a valid label value.
	Name string
	// Namespace of the pages. Required; it must exist.
	Namespace string
	// UnitsPerPage bounds the units one page holds. Default 100.
	UnitsPerPage int
	// EntriesPerPage bounds the entries of a page that several units
	// share: a unit whose save would take its page above it moves to a
	// page of its own. Default 5,000 (about 150 KiB compressed).
	EntriesPerPage int
	// Linger is how long a save that must reach the cluster before it
	// returns waits for saves of other units of its page, so that one
	// write carries them all. Default 25ms; negative for no wait.
	Linger time.Duration
}

func (o LedgerOptions) withDefaults() LedgerOptions {
	if o.UnitsPerPage <= 0 {
		o.UnitsPerPage = 100
	}
	if o.EntriesPerPage <= 0 {
		o.EntriesPerPage = 5000
	}
	if o.Linger == 0 {
		o.Linger = 25 * time.Millisecond
	}
	return o
}

// Ledger keeps the inventories of many units in a few Secrets, its pages,
// so that units cost no request of their own: one LIST reads every page,
// and one write of a page carries the saves of all its units that are
// waiting (group commit). [Ledger.Unit] returns a unit's [Storage].
//
// A save that adds objects to what the page in the cluster lists for the
// unit returns once that write succeeded, so no object is ever created
// outside the inventory. A save that only refreshes or removes entries (the
// hashes and resourceVersions an apply learns, the objects a prune
// deleted) returns at once and is written with the page's next write, or by
// [Ledger.Flush]: until then the stored inventory lists more than the
// cluster holds, never less, and a crash costs the next apply a request per
// object, nothing else.
//
// Each unit has its own version (the Inventory's ResourceVersion, a
// counter kept in the page): a save made on an outdated load gets a
// [*ConflictError], as with [Store], while saves of different units of a
// page never conflict with each other. A save that waits for its write is
// then not written; one written later, whose caller went on, is merged
// with what the other writer stored (the union, so that neither forgets an
// object), and its conflict is returned by [LedgerUnit.Commit] or
// [Ledger.Flush]. Objects keep the ownership labels of
// [NewOwner](unit, namespace, [ParentSecret]); the page, not a per-unit
// Secret, is what kubectl would see as the parent, so kubectl's ApplySet
// commands do not apply to ledger units.
//
// A Ledger is safe for concurrent use. It keeps the pages in memory (the
// inventories, not the objects): call [Ledger.Refresh] to read them again.
type Ledger struct {
	opts   LedgerOptions
	client corev1client.SecretInterface

	mu      sync.Mutex
	loaded  bool
	pages   map[int]*page
	units   map[string]*ledgerUnit
	corrupt error // the first page that could not be read, if any
	saving  int   // saves and writes under way
}

// page is one Secret of the ledger.
type page struct {
	index   int
	rv      string               // "" while the Secret does not exist
	durable map[string]pageUnit  // what the Secret holds at rv
	pending map[string]*ledgerOp // changes not written yet
	open    *batch               // the batch gathering sync saves, led by its first
	write   sync.Mutex           // one write of the page at a time
}

type pageUnit struct {
	Gen uint64
	Inv Inventory
}

// ledgerUnit is a unit's latest accepted state.
type ledgerUnit struct {
	name  string
	page  int // -1 before its first save
	gen   uint64
	inv   Inventory
	stale []int // other pages still listing the unit
	// conflict is a conflict of a deferred save of the unit, not reported
	// yet (a save that waits for its write learns of its conflict there).
	conflict error
}

// ledgerOp is a change of one unit on one page.
type ledgerOp struct {
	remove bool
	// dropCopy removes a copy the unit left on another page: written
	// whatever that copy's version.
	dropCopy bool
	// wait: the save waits for the write and learns of a conflict, so
	// it is dropped then; a save written later is merged instead.
	wait bool
	inv  Inventory
	gen  uint64
}

// batch is one write of a page that sync saves wait for.
type batch struct {
	done   chan struct{}
	err    error
	failed map[string]error // per unit: a conflict
}

// NewLedger returns a ledger whose pages live in opts.Namespace, read and
// written as c's identity. It makes no request.
func NewLedger(c *cluster.Cluster, opts LedgerOptions) (*Ledger, error) {
	if c == nil {
		return nil, errors.New("inventory: nil cluster")
	}
	for _, v := range []string{opts.Name, opts.Namespace} {
		if v == "" {
			return nil, errors.New("inventory: ledger name and namespace are required")
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("inventory: %q is not a valid label value: %v", v, errs)
		}
	}
	return &Ledger{opts: opts.withDefaults(), client: c.Kubernetes().CoreV1().Secrets(opts.Namespace)}, nil
}

// PageName returns the name of the ledger's page n.
func (l *Ledger) PageName(n int) string { return l.opts.Name + ".inventory-" + strconv.Itoa(n) }

// IsPageName reports whether name is the name of one of the ledger's pages.
func (l *Ledger) IsPageName(name string) bool {
	_, ok := l.pageIndex(name)
	return ok
}

// Unit returns the storage of the unit name (the owner name, as for
// [NewOwner]). It makes no request.
func (l *Ledger) Unit(name string) (*LedgerUnit, error) {
	owner, err := NewOwner(name, l.opts.Namespace, ParentSecret)
	if err != nil {
		return nil, err
	}
	return &LedgerUnit{l: l, owner: owner}, nil
}

// Refresh writes what is pending, then forgets the pages, so that the
// next load reads them again (one LIST) and sees what other writers
// stored. While a save is under way it keeps them: what this ledger
// holds is then at least as new as the cluster's for the units it saves,
// and a unit someone else changed conflicts at its next save.
func (l *Ledger) Refresh(ctx context.Context) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.saving == 0 {
		l.loaded = false
	}
	return nil
}

// Units returns the names of the units the ledger holds, sorted.
func (l *Ledger) Units(ctx context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	var out []string
	for name, u := range l.units {
		if u.gen > 0 && u.page >= 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// load reads every page once (l.mu held).
func (l *Ledger) load(ctx context.Context) error {
	if l.loaded {
		return nil
	}
	pages := map[int]*page{}
	units := map[string]*ledgerUnit{}
	var corrupt error
	opts := metav1.ListOptions{LabelSelector: LabelLedger + "=" + l.opts.Name, Limit: listPageSize}
	for {
		list, err := l.client.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("inventory: list the pages of ledger %s/%s: %w", l.opts.Namespace, l.opts.Name, err)
		}
		for i := range list.Items {
			s := &list.Items[i]
			n, ok := l.pageIndex(s.Name)
			if !ok || n < 0 { // not a page the ledger writes
				continue
			}
			content, err := l.decodePage(s)
			if err != nil {
				corrupt = cmp.Or(corrupt, err)
				continue
			}
			pages[n] = &page{index: n, rv: s.ResourceVersion, durable: content, pending: map[string]*ledgerOp{}}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	for _, n := range slices.Sorted(maps.Keys(pages)) {
		for name, pu := range pages[n].durable {
			u, ok := units[name]
			if !ok {
				units[name] = &ledgerUnit{name: name, page: n, gen: pu.Gen, inv: pu.Inv}
				continue
			}
			// A unit on two pages (a move cut short): the union, so
			// that no entry is forgotten; its next save drops the copy.
			u.inv = union(u.inv, pu.Inv)
			u.gen = max(u.gen, pu.Gen)
			u.stale = append(u.stale, n)
		}
	}
	l.pages, l.units, l.corrupt, l.loaded = pages, units, corrupt, true
	return nil
}

// pageIndex returns the number in a page's name.
func (l *Ledger) pageIndex(name string) (int, bool) {
	n, ok := strings.CutPrefix(name, l.opts.Name+".inventory-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// union returns a's entries plus b's that a does not list.
func union(a, b Inventory) Inventory {
	idx := a.Index()
	out := Inventory{Entries: slices.Clone(a.Entries)}
	for _, e := range b.Entries {
		if _, ok := idx[e.ID()]; !ok {
			out.Entries = append(out.Entries, e)
		}
	}
	out.Sort()
	return out
}

// pageWire is a page's serialised form.
type pageWire struct {
	Format int                     `json:"format"`
	Units  map[string]pageUnitWire `json:"units"`
}

type pageUnitWire struct {
	Gen    uint64      `json:"gen"`
	Groups []wireGroup `json:"groups"`
}

// decodePage returns what a page Secret holds, refusing one that gitopskit
// did not write.
func (l *Ledger) decodePage(s *corev1.Secret) (map[string]pageUnit, error) {
	if tool, _, _ := strings.Cut(s.Annotations[AnnotationApplySetTooling], "/"); s.Labels[LabelLedger] != l.opts.Name || tool != ToolName {
		return nil, &ForeignToolError{Namespace: s.Namespace, Name: s.Name, Kind: "Secret",
			Tooling: s.Annotations[AnnotationApplySetTooling], Reason: "not a page of ledger " + l.opts.Name}
	}
	if len(s.Data[DataKey]) == 0 {
		return map[string]pageUnit{}, nil // emptied by hand: as if deleted
	}
	var w pageWire
	if err := gunzipJSON(s.Data[DataKey], &w); err != nil {
		return nil, fmt.Errorf("inventory: page %s/%s: %w", s.Namespace, s.Name, err)
	}
	if w.Format != ledgerFormat {
		return nil, fmt.Errorf("inventory: page %s/%s: %w: format %d, want %d", s.Namespace, s.Name, ErrCorrupt, w.Format, ledgerFormat)
	}
	out := make(map[string]pageUnit, len(w.Units))
	for name, pu := range w.Units {
		if pu.Gen == 0 {
			return nil, fmt.Errorf("inventory: page %s/%s: %w: unit %q has no version", s.Namespace, s.Name, ErrCorrupt, name)
		}
		out[name] = pageUnit{Gen: pu.Gen, Inv: entriesOf(pu.Groups)}
	}
	return out, nil
}

func encodePage(content map[string]pageUnit) ([]byte, error) {
	w := pageWire{Format: ledgerFormat, Units: make(map[string]pageUnitWire, len(content))}
	for name, pu := range content {
		w.Units[name] = pageUnitWire{Gen: pu.Gen, Groups: groupsOf(pu.Inv)}
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("inventory: encode a page: %w", err)
	}
	return gzipJSON(append(raw, '\n'))
}

func token(gen uint64) string {
	if gen == 0 {
		return ""
	}
	return strconv.FormatUint(gen, 10)
}

// unitOf returns the unit's state, creating it (l.mu held, loaded).
func (l *Ledger) unitOf(name string) *ledgerUnit {
	u, ok := l.units[name]
	if !ok {
		u = &ledgerUnit{name: name, page: -1}
		l.units[name] = u
	}
	return u
}

func (l *Ledger) pageOf(n int) *page {
	p, ok := l.pages[n]
	if !ok {
		p = &page{index: n, durable: map[string]pageUnit{}, pending: map[string]*ledgerOp{}}
		l.pages[n] = p
	}
	return p
}

// size returns the units and entries page p will hold once its pending
// changes are written, without unit skip (l.mu held).
func (p *page) size(skip string) (units, entries int) {
	for name, pu := range p.durable {
		if name == skip {
			continue
		}
		if op, ok := p.pending[name]; ok {
			if !op.remove {
				units++
				entries += op.inv.Len()
			}
			continue
		}
		units++
		entries += pu.Inv.Len()
	}
	for name, op := range p.pending {
		if _, ok := p.durable[name]; ok || name == skip || op.remove {
			continue
		}
		units++
		entries += op.inv.Len()
	}
	return units, entries
}

// placeFor returns the page a unit of n entries goes to: the lowest page
// with room, or a new one (l.mu held).
func (l *Ledger) placeFor(name string, n int) int {
	free := 0
	for _, i := range slices.Sorted(maps.Keys(l.pages)) {
		units, entries := l.pages[i].size(name)
		if units < l.opts.UnitsPerPage && (units == 0 || entries+n <= l.opts.EntriesPerPage) {
			return i
		}
		free = i + 1
	}
	return free
}

// save records a unit's change and returns the batch to wait for, or nil
// when the change may be written later.
func (l *Ledger) save(ctx context.Context, owner Owner, inv *Inventory, remove bool) (*page, *batch, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(ctx); err != nil {
		return nil, nil, err
	}
	u := l.unitOf(owner.Unit)
	if inv.ResourceVersion != token(u.gen) {
		return nil, nil, &ConflictError{Namespace: l.opts.Namespace, Name: owner.Unit,
			Err: fmt.Errorf("saved at version %q, stored version %q", inv.ResourceVersion, token(u.gen))}
	}
	if u.page < 0 && u.gen == 0 && l.corrupt != nil {
		// The unit may be on the page we cannot read.
		return nil, nil, fmt.Errorf("inventory: unit %s: %w", owner.Unit, l.corrupt)
	}
	if remove && u.page < 0 {
		return nil, nil, nil // nothing stored
	}
	inv.Sort()
	grows := false
	if !remove {
		var durable Inventory
		if u.page >= 0 {
			durable = l.pages[u.page].durable[u.name].Inv
		}
		idx := durable.Index()
		for _, e := range inv.Entries {
			if _, ok := idx[e.ID()]; !ok {
				grows = true
				break
			}
		}
		if u.page < 0 && len(inv.Entries) == 0 {
			grows = true // a first save creates the unit's record
		}
	}
	target := u.page
	if target < 0 {
		target = l.placeFor(u.name, inv.Len())
	} else if grows {
		if units, entries := l.pages[target].size(u.name); units > 0 && entries+inv.Len() > l.opts.EntriesPerPage {
			// Too big to share its page: to a page with room, the
			// old copy dropped once the new one is written.
			u.stale = append(u.stale, target)
			target = l.placeFor(u.name, inv.Len())
		}
	}
	u.gen++
	if remove {
		u.inv = Inventory{}
	} else {
		u.inv = Inventory{Entries: slices.Clone(inv.Entries)}
	}
	op := &ledgerOp{remove: remove, inv: u.inv, gen: u.gen, wait: grows || remove}
	if target != u.page && u.page >= 0 && !slices.Contains(u.stale, u.page) {
		u.stale = append(u.stale, u.page)
	}
	u.page = target
	p := l.pageOf(target)
	p.pending[u.name] = op
	if remove {
		l.dropCopies(u)
	}
	if remove {
		u.page = -1
	}
	inv.ResourceVersion = token(u.gen)
	if !grows && !remove {
		return nil, nil, nil
	}
	b, lead := p.join()
	if !lead {
		return nil, b, nil
	}
	return p, b, nil // the caller leads it
}

// join returns the batch gathering saves for p, and whether the caller
// made it and so leads it (l.mu held).
func (p *page) join() (b *batch, lead bool) {
	if p.open != nil {
		return p.open, false
	}
	p.open = &batch{done: make(chan struct{})}
	return p.open, true
}

// dropCopies has the copies a unit left on other pages removed with those
// pages' next writes (l.mu held). Only once its current page is written:
// until then the copies list what it holds.
func (l *Ledger) dropCopies(u *ledgerUnit) {
	for _, n := range u.stale {
		if n != u.page {
			l.pageOf(n).pending[u.name] = &ledgerOp{remove: true, dropCopy: true}
		}
	}
	u.stale = nil
}

// writeTimeout bounds one write of a page, which the saves of several units
// wait for whatever their own contexts.
const writeTimeout = 30 * time.Second

// lead waits for the linger, then writes page p with every pending change
// (b's among them) and ends b.
func (l *Ledger) lead(ctx context.Context, p *page, b *batch, linger time.Duration) {
	if linger > 0 {
		t := time.NewTimer(linger)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	p.write.Lock()
	defer p.write.Unlock()
	l.mu.Lock()
	if p.open == b {
		p.open = nil // later saves gather in the next batch
	}
	l.saving++ // a Refresh meanwhile keeps the pages this write updates
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.saving--
		l.mu.Unlock()
	}()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	b.failed, b.err = l.writePage(wctx, p)
	close(b.done)
}

// wait returns the outcome of b for unit.
func (b *batch) wait(ctx context.Context, unit string) error {
	select {
	case <-b.done:
	case <-ctx.Done():
		return fmt.Errorf("inventory: wait for the write of unit %s: %w", unit, ctx.Err())
	}
	if err := b.failed[unit]; err != nil {
		return err
	}
	return b.err
}

// writePage writes p with its pending changes (p.write held). On a
// conflict it reads the page again: units someone else changed meanwhile
// fail with a [*ConflictError] (and take the stored state), the rest are
// written again.
func (l *Ledger) writePage(ctx context.Context, p *page) (map[string]error, error) {
	var failed map[string]error
	for range 5 {
		l.mu.Lock()
		ops := maps.Clone(p.pending)
		content := maps.Clone(p.durable)
		for name, op := range ops {
			if op.remove {
				delete(content, name)
			} else {
				content[name] = pageUnit{Gen: op.gen, Inv: op.inv}
			}
		}
		rv := p.rv
		l.mu.Unlock()
		if len(ops) == 0 {
			return failed, nil
		}
		newRV, err := l.put(ctx, p.index, rv, content)
		if err == nil {
			l.mu.Lock()
			p.rv, p.durable = newRV, content
			for name, op := range ops {
				if u := l.units[name]; u != nil && !op.remove && u.page == p.index {
					l.dropCopies(u)
				}
				if p.pending[name] == op {
					delete(p.pending, name)
				}
			}
			l.mu.Unlock()
			return failed, nil
		}
		if !errors.Is(err, ErrConflict) {
			return failed, err
		}
		fresh, freshRV, err := l.get(ctx, p.index)
		if err != nil {
			return failed, err
		}
		l.mu.Lock()
		for _, name := range slices.Collect(maps.Keys(mergeKeys(fresh, p.durable))) {
			theirs, ours := fresh[name], p.durable[name]
			if theirs.Gen == ours.Gen {
				continue
			}
			// Changed by another writer since we read it.
			u := l.unitOf(name)
			op := p.pending[name]
			if op != nil && !op.dropCopy {
				cerr := &ConflictError{Namespace: l.opts.Namespace, Name: name,
					Err: fmt.Errorf("page %s was written by someone else", l.PageName(p.index))}
				if failed == nil {
					failed = map[string]error{}
				}
				failed[name] = cerr // for the saves waiting for this write
				if !op.wait {
					u.conflict = cerr // for Commit or Flush: no one waits
				}
			}
			switch {
			case op != nil && !op.dropCopy && !op.wait:
				// A save written later, whose caller went on: neither
				// write may forget what the other recorded, so the
				// union, ours winning where both list an object.
				u.gen = max(u.gen, theirs.Gen) + 1
				u.inv = union(op.inv, theirs.Inv)
				p.pending[name] = &ledgerOp{inv: u.inv, gen: u.gen}
			case u.page == p.index || u.page < 0:
				delete(p.pending, name)
				u.gen = max(u.gen, theirs.Gen) + 1 // outdates every version handed out
				u.inv = theirs.Inv
				u.page = p.index
				if theirs.Gen == 0 {
					u.page = -1
				}
			}
		}
		p.durable, p.rv = fresh, freshRV
		l.mu.Unlock()
	}
	return failed, fmt.Errorf("inventory: page %s/%s: %w", l.opts.Namespace, l.PageName(p.index), ErrConflict)
}

func mergeKeys(a, b map[string]pageUnit) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// put writes page n (create, update or, when empty, delete) if it is still
// at rv; a *ConflictError otherwise.
func (l *Ledger) put(ctx context.Context, n int, rv string, content map[string]pageUnit) (string, error) {
	name := l.PageName(n)
	conflict := func(err error) error { return &ConflictError{Namespace: l.opts.Namespace, Name: name, Err: err} }
	if len(content) == 0 {
		if rv == "" {
			return "", nil
		}
		err := l.client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		switch {
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			return "", conflict(err)
		case err != nil:
			return "", fmt.Errorf("inventory: delete page %s/%s: %w", l.opts.Namespace, name, err)
		}
		return "", nil
	}
	data, err := encodePage(content)
	if err != nil {
		return "", err
	}
	if len(data) > maxStoredSize {
		return "", fmt.Errorf("inventory: page %s/%s compresses to %d bytes, more than the %d a Secret can hold", l.opts.Namespace, name, len(data), maxStoredSize)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.opts.Namespace, ResourceVersion: rv,
			Labels:      map[string]string{LabelLedger: l.opts.Name},
			Annotations: map[string]string{AnnotationApplySetTooling: ToolName + "/" + ToolVersion}},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{DataKey: data},
	}
	if rv == "" {
		sec, err = l.client.Create(ctx, sec, metav1.CreateOptions{})
	} else {
		sec, err = l.client.Update(ctx, sec, metav1.UpdateOptions{})
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || (rv != "" && apierrors.IsNotFound(err)):
		return "", conflict(err)
	case err != nil:
		return "", fmt.Errorf("inventory: write page %s/%s: %w", l.opts.Namespace, name, err)
	}
	return sec.ResourceVersion, nil
}

// get reads page n as it is now; a missing page is empty.
func (l *Ledger) get(ctx context.Context, n int) (map[string]pageUnit, string, error) {
	s, err := l.client.Get(ctx, l.PageName(n), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return map[string]pageUnit{}, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("inventory: read page %s/%s: %w", l.opts.Namespace, l.PageName(n), err)
	}
	content, err := l.decodePage(s)
	if err != nil {
		return nil, "", err
	}
	return content, s.ResourceVersion, nil
}

// Flush writes every change still pending and returns once they are
// stored.
func (l *Ledger) Flush(ctx context.Context) error {
	l.mu.Lock()
	type wait struct {
		p    *page
		b    *batch
		lead bool
	}
	var waits []wait
	for _, n := range slices.Sorted(maps.Keys(l.pages)) {
		p := l.pages[n]
		if len(p.pending) == 0 {
			continue
		}
		b, lead := p.join()
		waits = append(waits, wait{p: p, b: b, lead: lead})
	}
	l.mu.Unlock()
	var errs []error
	for _, w := range waits {
		if w.lead {
			l.lead(ctx, w.p, w.b, 0)
		}
		select {
		case <-w.b.done:
		case <-ctx.Done():
			return fmt.Errorf("inventory: flush ledger %s/%s: %w", l.opts.Namespace, l.opts.Name, ctx.Err())
		}
		errs = append(errs, w.b.err)
	}
	l.mu.Lock()
	for _, name := range slices.Sorted(maps.Keys(l.units)) {
		if u := l.units[name]; u.conflict != nil {
			errs = append(errs, u.conflict)
			u.conflict = nil
		}
	}
	l.mu.Unlock()
	return errors.Join(errs...)
}

// takeConflict returns and forgets the unit's unreported conflict.
func (l *Ledger) takeConflict(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.units[name]
	if u == nil {
		return nil
	}
	err := u.conflict
	u.conflict = nil
	return err
}

// LedgerUnit is the [Storage] of one unit of a [Ledger]. It also
// implements [Deleter].
type LedgerUnit struct {
	l     *Ledger
	owner Owner
}

var (
	_ Storage   = (*LedgerUnit)(nil)
	_ Deleter   = (*LedgerUnit)(nil)
	_ Committer = (*LedgerUnit)(nil)
)

// Owner returns the unit's identity.
func (s *LedgerUnit) Owner() Owner { return s.owner }

// Load returns the unit's inventory as the ledger holds it (the pages are
// read with one LIST on the ledger's first load). A unit that may be on a
// page the ledger cannot read gets that page's error.
func (s *LedgerUnit) Load(ctx context.Context) (Inventory, error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(ctx); err != nil {
		return Inventory{}, err
	}
	u, ok := l.units[s.owner.Unit]
	if !ok || u.gen == 0 {
		if l.corrupt != nil {
			return Inventory{}, fmt.Errorf("inventory: unit %s: %w", s.owner.Unit, l.corrupt)
		}
		return Inventory{}, nil
	}
	return Inventory{Entries: slices.Clone(u.inv.Entries), ResourceVersion: token(u.gen)}, nil
}

// Save stores inv if the unit's stored version is still the one
// inv.ResourceVersion names (a [*ConflictError] otherwise) and sets
// inv.ResourceVersion to the new version. It returns once the page is
// written when inv lists an object the page does not list for the unit
// yet; otherwise the page is written later (see [Ledger]).
func (s *LedgerUnit) Save(ctx context.Context, inv *Inventory) error {
	return s.do(ctx, inv, false)
}

// Delete removes the unit from its page if its stored version is still
// the one inv.ResourceVersion names, and returns once the page is written.
func (s *LedgerUnit) Delete(ctx context.Context, inv Inventory) error {
	return s.do(ctx, &inv, true)
}

func (s *LedgerUnit) do(ctx context.Context, inv *Inventory, remove bool) error {
	l := s.l
	l.mu.Lock()
	l.saving++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.saving--
		l.mu.Unlock()
	}()
	p, b, err := l.save(ctx, s.owner, inv, remove)
	if err != nil || b == nil {
		return err
	}
	if p != nil {
		l.lead(ctx, p, b, l.opts.Linger)
	}
	err = b.wait(ctx, s.owner.Unit)
	if errors.Is(err, ErrConflict) {
		l.takeConflict(s.owner.Unit) // reported here
	}
	return err
}

// Commit writes the unit's saves that are still pending now (with those of
// the other units of its page) and returns a [*ConflictError] when someone
// else changed the unit's inventory since it was loaded (the union of both
// is stored then, see [Ledger]). Package apply's Prune calls it before it deletes
// anything, so that no prune acts on an outdated inventory.
func (s *LedgerUnit) Commit(ctx context.Context) error {
	l := s.l
	name := s.owner.Unit
	l.mu.Lock()
	u := l.units[name]
	if u == nil || u.page < 0 || l.pages[u.page].pending[name] == nil {
		l.mu.Unlock()
		return l.takeConflict(name)
	}
	p := l.pages[u.page]
	b, lead := p.join()
	l.mu.Unlock()
	if lead {
		l.lead(ctx, p, b, l.opts.Linger)
	}
	err := b.wait(ctx, name)
	if cerr := l.takeConflict(name); err == nil {
		err = cerr
	}
	return err
}
