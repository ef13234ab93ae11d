package glue

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// GetSchemaVersionAPI is the one registry call a Decoder makes; *glue.Client of
// github.com/aws/aws-sdk-go-v2/service/glue satisfies it.
type GetSchemaVersionAPI interface {
	GetSchemaVersion(ctx context.Context, params *gluesdk.GetSchemaVersionInput, optFns ...func(*gluesdk.Options)) (*gluesdk.GetSchemaVersionOutput, error)
}

// RegistryError says why a schema version could not be had from the registry. It matches
// ErrSchemaNotFound, ErrSchemaNotAvailable or ErrInvalidSchema where one applies, and
// unwraps to the SDK's error when the call failed.
type RegistryError struct {
	SchemaVersionID SchemaVersionID
	Err             error
}

func (e *RegistryError) Error() string {
	return "glue: schema version " + e.SchemaVersionID.String() + ": " + e.Err.Error()
}

func (e *RegistryError) Unwrap() error { return e.Err }

// schemaCache holds parsed schemas by version id: at most size of them, least recently
// used dropped first. A schema older than refreshAfter is fetched again in the background
// while the old one keeps serving, and keeps serving when the refresh fails. One fetch per
// id is in flight at a time, however many shards ask. Failures are cached too: for
// negativeTTL when the registry said the id is unknown, unavailable or its schema is
// invalid, for failureBackoff when the call itself failed.
type schemaCache struct {
	api            GetSchemaVersionAPI
	size           int
	refreshAfter   time.Duration
	negativeTTL    time.Duration
	failureBackoff time.Duration
	callTimeout    time.Duration
	log            *slog.Logger
	stats          *counters
	now            func() time.Time
	// onFetched, when set (tests), runs after every fetch, first or refresh.
	onFetched func(SchemaVersionID, error)

	// ctx ends with Close; fetches run under it, owned by wg.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[SchemaVersionID]*cacheEntry
	lru     list.List // of *cacheEntry, most recently used first
	closed  bool
}

type cacheEntry struct {
	id SchemaVersionID
	// ready is closed when the first fetch ended; until then schema and err are unset.
	ready  chan struct{}
	schema *Schema
	err    error
	// fetched is when schema was fetched; retryAt is when err expires, or when a failed
	// refresh may be tried again.
	fetched, retryAt time.Time
	refreshing       bool
	elem             *list.Element
}

// errClosed is what get returns once the Decoder is closed.
var errClosed = errors.New("glue: Decoder closed")

func (c *schemaCache) get(ctx context.Context, id SchemaVersionID) (*Schema, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	e := c.entries[id]
	if e != nil {
		select {
		case <-e.ready:
			now := c.now()
			if e.schema != nil {
				c.lru.MoveToFront(e.elem)
				if !e.refreshing && now.Sub(e.fetched) >= c.refreshAfter && !now.Before(e.retryAt) {
					e.refreshing = true
					c.wg.Add(1)
					go c.fetch(e, true)
				}
				s := e.schema
				c.mu.Unlock()
				c.stats.cacheHits.Add(1)
				return s, nil
			}
			if now.Before(e.retryAt) {
				err := e.err
				c.mu.Unlock()
				c.stats.cacheHits.Add(1)
				return nil, err
			}
			c.remove(e) // a failure that expired: ask again
			e = nil
		default: // the first fetch is in flight: wait for it
			c.stats.coalesced.Add(1)
		}
	}
	if e == nil {
		c.stats.cacheMisses.Add(1)
		e = &cacheEntry{id: id, ready: make(chan struct{})}
		e.elem = c.lru.PushFront(e)
		c.entries[id] = e
		for c.lru.Len() > c.size {
			c.remove(c.lru.Back().Value.(*cacheEntry))
		}
		c.wg.Add(1)
		go c.fetch(e, false)
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	c.mu.Lock()
	s, err := e.schema, e.err
	c.mu.Unlock()
	return s, err
}

func (c *schemaCache) remove(e *cacheEntry) {
	c.lru.Remove(e.elem)
	if c.entries[e.id] == e {
		delete(c.entries, e.id)
	}
}

// fetch asks the registry for e's schema and parses it. A first fetch settles e; a
// refresh replaces e's schema only when it succeeds.
func (c *schemaCache) fetch(e *cacheEntry, refresh bool) {
	defer c.wg.Done()
	s, err := c.load(e.id)
	now := c.now()
	c.mu.Lock()
	switch {
	case !refresh && err != nil:
		e.err = err
		e.retryAt = now.Add(c.failureBackoff)
		if errors.Is(err, ErrSchemaNotFound) || errors.Is(err, ErrSchemaNotAvailable) || errors.Is(err, ErrInvalidSchema) {
			e.retryAt = now.Add(c.negativeTTL)
		}
		close(e.ready)
	case !refresh:
		e.schema, e.fetched = s, now
		close(e.ready)
	case err != nil:
		e.refreshing = false
		e.retryAt = now.Add(c.failureBackoff)
	default:
		e.refreshing = false
		e.schema, e.fetched = s, now
	}
	c.mu.Unlock()
	if err != nil && c.ctx.Err() == nil { // not the Decoder closing
		c.stats.registryFailures.Add(1)
		if refresh {
			c.stats.refreshFailures.Add(1)
			c.log.Warn("glue: refreshing a schema failed; the cached one keeps serving",
				slog.String("schemaVersionId", e.id.String()), slog.Any("error", err))
		} else {
			c.log.Warn("glue: fetching a schema failed", slog.String("schemaVersionId", e.id.String()), slog.Any("error", err))
		}
	}
	if c.onFetched != nil {
		c.onFetched(e.id, err)
	}
}

// load calls GetSchemaVersion and parses what it returns.
func (c *schemaCache) load(id SchemaVersionID) (*Schema, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.callTimeout)
	defer cancel()
	c.stats.registryCalls.Add(1)
	out, err := c.api.GetSchemaVersion(ctx, &gluesdk.GetSchemaVersionInput{SchemaVersionId: aws.String(id.String())})
	if err != nil {
		var nf *types.EntityNotFoundException
		if errors.As(err, &nf) {
			err = fmt.Errorf("%w: %w", ErrSchemaNotFound, err)
		}
		return nil, &RegistryError{SchemaVersionID: id, Err: err}
	}
	if out.Status != types.SchemaVersionStatusAvailable {
		return nil, &RegistryError{SchemaVersionID: id, Err: fmt.Errorf("%w: status %s", ErrSchemaNotAvailable, out.Status)}
	}
	s := &Schema{
		VersionID:     id,
		Format:        DataFormat(out.DataFormat),
		ARN:           aws.ToString(out.SchemaArn),
		VersionNumber: aws.ToInt64(out.VersionNumber),
		Definition:    aws.ToString(out.SchemaDefinition),
	}
	s.Registry, s.Name = namesFromARN(s.ARN)
	if err := parseSchema(ctx, s); err != nil {
		return nil, &RegistryError{SchemaVersionID: id, Err: err}
	}
	return s, nil
}

// namesFromARN reads the registry and schema names from a schema ARN,
// arn:aws:glue:region:account:schema/registry/schema.
func namesFromARN(arn string) (registry, schema string) {
	_, res, ok := strings.Cut(arn, ":schema/")
	if !ok {
		return "", ""
	}
	registry, schema, _ = strings.Cut(res, "/")
	return registry, schema
}

func (c *schemaCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
