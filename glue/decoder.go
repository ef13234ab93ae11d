package glue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kclgo/kcl/aggregation"
)

// Decoder decodes records framed by the Glue Schema Registry serializer, fetching their
// schemas from the registry through a cache. It is safe for concurrent use; Close it to
// stop its background fetches.
type Decoder struct {
	cfg   config
	cache *schemaCache
	avro  avro.API
	stats counters
}

// counters back Stats.
type counters struct {
	cacheHits, cacheMisses, coalesced, registryCalls, registryFailures, refreshFailures atomic.Int64
	decoded, decodeErrors, passedThrough                                                atomic.Int64
}

// Stats counts what a Decoder did since it was made.
type Stats struct {
	// CacheHits and CacheMisses count schema look-ups; a miss starts a registry call
	// unless one for the same id is in flight.
	CacheHits, CacheMisses int64
	// Coalesced counts look-ups that waited for a fetch of the same id already in
	// flight instead of calling the registry themselves.
	Coalesced int64
	// RegistryCalls counts GetSchemaVersion calls (first fetches and refreshes);
	// RegistryFailures those that failed, RefreshFailures the failed refreshes among
	// them (the old schema kept serving).
	RegistryCalls, RegistryFailures, RefreshFailures int64
	// Decoded and DecodeErrors count framed records; PassedThrough the records without
	// the registry's header that were left as they were.
	Decoded, DecodeErrors, PassedThrough int64
}

// NewDecoder returns a Decoder that asks api (a *glue.Client) for schemas.
func NewDecoder(api GetSchemaVersionAPI, opts ...Option) (*Decoder, error) {
	if api == nil {
		return nil, &OptionError{Option: "NewDecoder", Reason: "nil GetSchemaVersionAPI"}
	}
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	d := &Decoder{
		cfg: cfg,
		// Bounds on what a length or block count in a payload may make the Avro
		// decoder allocate: hamba's default for arrays is the whole heap.
		avro: avro.Config{MaxByteSliceSize: cfg.maxPayload, MaxSliceAllocSize: cfg.maxPayload}.Freeze(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cache = &schemaCache{
		api: api, size: cfg.cacheSize, refreshAfter: cfg.refreshAge, negativeTTL: cfg.negativeTTL,
		failureBackoff: cfg.failureBackoff, callTimeout: cfg.callTimeout, log: cfg.log, stats: &d.stats,
		now: time.Now, ctx: ctx, cancel: cancel, entries: make(map[SchemaVersionID]*cacheEntry),
	}
	return d, nil
}

// Close stops the Decoder's background fetches and waits for them. Decoding after Close
// fails for schemas not cached yet.
func (d *Decoder) Close() error {
	d.cache.close()
	return nil
}

// Stats returns the Decoder's counters.
func (d *Decoder) Stats() Stats {
	s := &d.stats
	return Stats{
		CacheHits: s.cacheHits.Load(), CacheMisses: s.cacheMisses.Load(), Coalesced: s.coalesced.Load(),
		RegistryCalls: s.registryCalls.Load(), RegistryFailures: s.registryFailures.Load(),
		RefreshFailures: s.refreshFailures.Load(),
		Decoded:         s.decoded.Load(), DecodeErrors: s.decodeErrors.Load(), PassedThrough: s.passedThrough.Load(),
	}
}

// Schema returns the schema version id names, from the cache or the registry.
func (d *Decoder) Schema(ctx context.Context, id SchemaVersionID) (*Schema, error) {
	return d.cache.get(ctx, id)
}

// Message is a decoded record: what its header named and the value its payload holds.
type Message struct {
	SchemaVersionID SchemaVersionID
	Compression     Compression
	// DataFormat and SchemaName are those of the schema version; empty when the schema
	// could not be had (see Err).
	DataFormat DataFormat
	SchemaName string
	// Schema is the schema version the payload was decoded with; nil when it could not be
	// had.
	Schema *Schema
	// Value is the decoded payload: for Avro what github.com/hamba/avro/v2 decodes into
	// an any (map[string]any for a record), for JSON what encoding/json decodes into an
	// any with numbers as json.Number, for Protobuf a proto.Message (*dynamicpb.Message).
	// Use As for a type of your own.
	Value any
	// Err is why the record did not decode, nil when it did. Its data is untouched.
	Err error

	// payload is uncompressed; for Protobuf it is the message's bytes, after the index.
	payload []byte
	d       *Decoder
}

// Decode decodes one framed record's data. Data without the registry's header gives an
// error matching ErrNotFramed (in either mode: passing through is the consumer's part).
// Every other failure comes back both as the error and in the Message's Err, with what
// was learnt before it (the schema version id at least).
func (d *Decoder) Decode(ctx context.Context, data []byte) (*Message, error) {
	m := new(Message)
	if err := d.decode(ctx, data, m); err != nil {
		if errors.Is(err, ErrNotFramed) {
			return nil, err
		}
		return m, err
	}
	return m, nil
}

func (d *Decoder) decode(ctx context.Context, data []byte, m *Message) error {
	m.d = d
	f, err := ParseFrame(data)
	if err != nil {
		m.Err = err
		return err
	}
	m.SchemaVersionID, m.Compression = f.SchemaVersionID, f.Compression
	s, err := d.cache.get(ctx, f.SchemaVersionID)
	if err != nil {
		m.Err = err
		return err
	}
	m.Schema, m.DataFormat, m.SchemaName = s, s.Format, s.Name
	payload, err := f.decompress(d.cfg.maxPayload, nil)
	if err == nil {
		err = d.decodePayload(s, payload, m)
	}
	if err != nil {
		m.Err = fmt.Errorf("glue: %s payload of schema version %s: %w", s.Format, s.VersionID, err)
		return m.Err
	}
	return nil
}

func (d *Decoder) decodePayload(s *Schema, payload []byte, m *Message) error {
	switch s.Format {
	case Avro:
		m.payload = payload
		var v any
		if err := d.avro.Unmarshal(s.avro, payload, &v); err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
		m.Value = v
	case JSON:
		m.payload = payload
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
		if d.cfg.validateJSON {
			if err := s.json.Validate(v); err != nil {
				return fmt.Errorf("%w: %w", ErrValidation, err)
			}
		}
		m.Value = v
	case Protobuf:
		idx, n := protowire.ConsumeVarint(payload)
		if n < 0 {
			return fmt.Errorf("%w: no message index: %w", ErrCorruptPayload, protowire.ParseError(n))
		}
		if idx >= uint64(len(s.messages)) {
			return fmt.Errorf("%w: message index %d, the schema has %d messages", ErrCorruptPayload, idx, len(s.messages))
		}
		m.payload = payload[n:]
		msg := dynamicpb.NewMessage(s.messages[idx])
		if err := proto.Unmarshal(m.payload, msg); err != nil {
			return fmt.Errorf("%w: %w", ErrCorruptPayload, err)
		}
		m.Value = msg
	default: // parseSchema admits no other format
		return fmt.Errorf("%w: data format %q", ErrInvalidSchema, s.Format)
	}
	return nil
}

// DecodeInto decodes the record's payload again into v, a pointer: for Avro any type
// github.com/hamba/avro/v2 decodes into (structs with `avro` tags), for JSON any type
// encoding/json decodes into, for Protobuf a generated message of the payload's type.
func (m *Message) DecodeInto(v any) error {
	if m.Err != nil {
		return m.Err
	}
	if m.Schema == nil || m.d == nil {
		return errors.New("glue: DecodeInto on a Message no Decoder made")
	}
	var err error
	switch m.DataFormat {
	case Avro:
		err = m.d.avro.Unmarshal(m.Schema.avro, m.payload, v)
	case JSON:
		err = json.Unmarshal(m.payload, v)
	case Protobuf:
		pm, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("glue: %w: %T is not a proto.Message", ErrTypeMismatch, v)
		}
		want := m.Value.(proto.Message).ProtoReflect().Descriptor().FullName()
		if got := pm.ProtoReflect().Descriptor().FullName(); got != want {
			return fmt.Errorf("glue: %w: the payload is a %s, not a %s", ErrTypeMismatch, want, got)
		}
		err = proto.Unmarshal(m.payload, pm)
	}
	if err != nil {
		return fmt.Errorf("glue: %w: %s payload into %T: %w", ErrTypeMismatch, m.DataFormat, v, err)
	}
	return nil
}

// RecordError is a record that did not decode. The record is delivered all the same,
// its data untouched.
type RecordError struct {
	Stream, ShardID   string
	SequenceNumber    string
	SubSequenceNumber uint64
	Err               error
}

func (e *RecordError) Error() string {
	where := "record " + e.SequenceNumber
	if e.SubSequenceNumber != 0 {
		where += fmt.Sprintf("/%d", e.SubSequenceNumber)
	}
	if e.ShardID != "" {
		where += " of " + e.Stream + "/" + e.ShardID
	}
	return where + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// DecodeRecords decodes records in place, on the caller's goroutine, setting each framed
// record's Decoded to its *Message (with Err set when it did not decode). Records without
// the registry's header stay as they are, unless the Decoder is Strict; records marked
// Corrupt (a KPL aggregate delivered whole) always do. It is the hook
// the consumer calls (kcl.Config.Decoder) for every batch before delivering it.
func (d *Decoder) DecodeRecords(ctx context.Context, stream, shardID string, records []aggregation.UserRecord) {
	var msgs []Message // one allocation for the batch's messages, made at the first framed record
	decoded, failed := 0, 0
	var firstErr error
	for i := range records {
		r := &records[i]
		// A corrupt KPL aggregate the consumer delivers whole is no frame of the
		// serializer's, strict or not.
		if r.Corrupt || !d.cfg.strict && !framed(r.Data) {
			d.stats.passedThrough.Add(1)
			continue
		}
		if msgs == nil {
			msgs = make([]Message, len(records)-i)
		}
		m := &msgs[len(msgs)-(len(records)-i)]
		if err := d.decode(ctx, r.Data, m); err != nil {
			m.Err = &RecordError{Stream: stream, ShardID: shardID, SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber, Err: err}
			failed++
			if firstErr == nil {
				firstErr = m.Err
			}
		} else {
			decoded++
		}
		r.Decoded = m
	}
	d.stats.decoded.Add(int64(decoded))
	if failed > 0 {
		d.stats.decodeErrors.Add(int64(failed))
		if ctx.Err() == nil {
			d.cfg.log.Warn("glue: records did not decode; they are delivered with the error",
				slog.String("stream", stream), slog.String("shard", shardID),
				slog.Int("records", failed), slog.Any("first", firstErr))
		}
	}
}

// framed reports whether data carries the header's version byte and length: a record
// that does not is not the serializer's and passes through.
func framed(data []byte) bool {
	return len(data) >= HeaderSize && data[0] == headerVersion
}

// From returns the Message the consumer's Decoder attached to r, if any.
func From(r aggregation.UserRecord) (*Message, bool) {
	m, ok := r.Decoded.(*Message)
	return m, ok && m != nil
}

// As returns r's decoded value as a T: the decoded Value itself when it is a T, else the
// payload decoded again into a T (see Message.DecodeInto). A record that did not decode
// gives its error; one the Decoder passed through, an error matching ErrNotFramed.
func As[T any](r aggregation.UserRecord) (T, error) {
	var zero T
	m, ok := From(r)
	if !ok {
		return zero, &RecordError{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber,
			Err: fmt.Errorf("%w: no decoded value (the record has no registry header, or no Decoder ran)", ErrNotFramed)}
	}
	if m.Err != nil {
		return zero, m.Err
	}
	if v, ok := m.Value.(T); ok {
		return v, nil
	}
	var t T
	// A generated protobuf type is a pointer: decode into a new message, not a nil one.
	if pm, ok := any(t).(proto.Message); ok {
		t = pm.ProtoReflect().Type().New().Interface().(T)
		if err := m.DecodeInto(t); err != nil {
			return zero, err
		}
		return t, nil
	}
	if err := m.DecodeInto(&t); err != nil {
		return zero, err
	}
	return t, nil
}
