package replay

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the records every stream of a Server holds.
type Config struct {
	// Shards is the number of open shards of every stream (1 or more).
	Shards int
	// RecordSize is the size of each user record's data, at least HeaderSize.
	RecordSize int
	// RecordsPerShard is how many Kinesis records each shard holds; 0 means no end.
	RecordsPerShard int64
	// Aggregate puts this many user records into each Kinesis record as a KPL aggregate;
	// 0 or 1 means no aggregation.
	Aggregate int
	// BytesPerSecond paces arrivals per shard (2 MiB/s is the service's per-shard read
	// rate), from the shard's first GetShardIterator or SubscribeToShard on; 0 means every
	// record is there from the start, served as fast as it is read.
	BytesPerSecond int64
	// ProbeGapMin and ProbeGapMax, when ProbeGapMax > 0, make records arrive one at a time
	// at uniformly random gaps in [min, max] (latency probes), from the shard's first
	// GetShardIterator or SubscribeToShard on; RecordsPerShard must be set.
	ProbeGapMin, ProbeGapMax time.Duration
	// Idle serves no records at all: for measuring what idle shards cost.
	Idle bool
	// Seed makes the probe gaps reproducible.
	Seed int64
	// EventInterval is the least time between two events of a subscription while records
	// keep arriving: records that arrive meanwhile go out together. 0 pushes each record
	// the moment it arrives (the probes' setting). Kinesis does not document its batching.
	EventInterval time.Duration
	// MaxEventBytes bounds the record data of one SubscribeToShard event. Default 1 MiB.
	MaxEventBytes int
	// SubscriptionLifetime is when the server ends a subscription. Default 5 minutes, as
	// Kinesis.
	SubscriptionLifetime time.Duration
	// Heartbeat is how often an idle subscription gets an empty event. Default 5 s.
	Heartbeat time.Duration
}

// Server is a loopback Kinesis serving generated records. Start one with Start.
type Server struct {
	cfg      Config
	start    time.Time
	shards   []shard
	filler   []byte
	filler64 string

	ln   net.Listener
	http *http.Server
	// ctx ends every subscription on Close.
	ctx    context.Context
	cancel context.CancelFunc
	subsWG sync.WaitGroup

	mu        sync.Mutex
	consumers map[string]string // consumer ARN by stream ARN + "/" + name
	live      map[string]bool   // consumer ARN + shard id of live subscriptions

	calls      sync.Map // operation -> *atomic.Int64
	activeSubs atomic.Int64
}

// Start validates cfg and serves on a free loopback port, HTTP/1.1 and HTTP/2 without TLS
// (h2c, which the SDK speaks with the transport of Transport).
func Start(cfg Config) (*Server, error) {
	switch {
	case cfg.Shards < 1:
		return nil, fmt.Errorf("replay: Shards %d is below 1", cfg.Shards)
	case cfg.RecordSize < HeaderSize:
		return nil, fmt.Errorf("replay: RecordSize %d is below the %d-byte header", cfg.RecordSize, HeaderSize)
	case cfg.RecordsPerShard < 0:
		return nil, fmt.Errorf("replay: RecordsPerShard %d is negative", cfg.RecordsPerShard)
	case cfg.ProbeGapMax > 0 && (cfg.RecordsPerShard == 0 || cfg.ProbeGapMin < 0 || cfg.ProbeGapMin > cfg.ProbeGapMax):
		return nil, fmt.Errorf("replay: probe gaps need RecordsPerShard and 0 <= ProbeGapMin <= ProbeGapMax")
	case cfg.BytesPerSecond < 0:
		return nil, fmt.Errorf("replay: BytesPerSecond %d is negative", cfg.BytesPerSecond)
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 1 << 20
	}
	if cfg.SubscriptionLifetime <= 0 {
		cfg.SubscriptionLifetime = 5 * time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("replay: listen: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		start:     time.Now(),
		shards:    newShards(cfg),
		filler:    Filler(cfg.RecordSize),
		ln:        ln,
		consumers: map[string]string{},
		live:      map[string]bool{},
	}
	s.filler64 = base64.StdEncoding.EncodeToString(s.filler)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:   http.HandlerFunc(s.serve),
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 100000, // one per subscription: a worker may hold thousands
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.http.Serve(ln) }() // returns ErrServerClosed on Close
	return s, nil
}

// URL is the endpoint to give the SDK (kinesis.Options.BaseEndpoint).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Transport returns an HTTP transport that speaks HTTP/2 without TLS to the server, as the
// SDK's TLS transport speaks h2 to Kinesis.
func Transport() *http.Transport {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Transport{
		Protocols:           &protocols,
		MaxIdleConnsPerHost: 100,
		HTTP2:               &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20},
	}
}

// Close ends every subscription and stops the server.
func (s *Server) Close() error {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.subsWG.Wait()
	return err
}

// Calls returns how many calls of each operation the server answered.
func (s *Server) Calls() map[string]int64 {
	out := map[string]int64{}
	s.calls.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// ActiveSubscriptions is how many SubscribeToShard streams are open now.
func (s *Server) ActiveSubscriptions() int64 { return s.activeSubs.Load() }

// ShardIDs returns the shard ids of every stream.
func (s *Server) ShardIDs() []string {
	out := make([]string, len(s.shards))
	for i := range s.shards {
		out[i] = s.shards[i].id
	}
	return out
}

func (s *Server) count(op string) {
	v, ok := s.calls.Load(op)
	if !ok {
		v, _ = s.calls.LoadOrStore(op, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

const targetPrefix = "Kinesis_20131202."

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "not a Kinesis JSON 1.1 call")
		return
	}
	s.count(op)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	switch op {
	case "DescribeStreamSummary":
		s.describeStreamSummary(w, body)
	case "ListShards":
		s.listShards(w, body)
	case "GetShardIterator":
		s.getShardIterator(w, body)
	case "GetRecords":
		s.getRecords(w, body)
	case "RegisterStreamConsumer":
		s.registerStreamConsumer(w, body)
	case "DescribeStreamConsumer":
		s.describeStreamConsumer(w, body)
	case "DeregisterStreamConsumer":
		s.deregisterStreamConsumer(w, body)
	case "SubscribeToShard":
		s.subscribeToShard(w, r, body)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", op+" is not served by the replay source")
	}
}

// writeError writes a JSON 1.1 error as Kinesis does: the type in the body and header.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	writeRaw(w, b)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(b)
}

const (
	region  = "us-east-1"
	account = "000000000000"
)

func streamARN(name string) string {
	return "arn:aws:kinesis:" + region + ":" + account + ":stream/" + name
}

// streamName takes a stream name or ARN from a request.
func streamName(name, arn string) (string, bool) {
	if name != "" {
		return name, true
	}
	if _, after, ok := strings.Cut(arn, ":stream/"); ok && after != "" {
		after, _, _ = strings.Cut(after, "/")
		return after, true
	}
	return "", false
}

type streamRef struct {
	StreamName string `json:"StreamName"`
	StreamARN  string `json:"StreamARN"`
}

func (s *Server) epoch() float64 { return float64(s.start.Unix()) }

func (s *Server) describeStreamSummary(w http.ResponseWriter, body []byte) {
	var in streamRef
	name, ok := decodeStream(w, body, &in)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              name,
		"StreamARN":               streamARN(name),
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
		"RetentionPeriodHours":    24,
		"StreamCreationTimestamp": s.epoch(),
		"EnhancedMonitoring":      []any{map[string]any{"ShardLevelMetrics": []string{}}},
		"EncryptionType":          "NONE",
		"OpenShardCount":          len(s.shards),
		"ConsumerCount":           0,
	}})
}

// decodeStream decodes a request naming a stream and writes the error when it does not.
func decodeStream(w http.ResponseWriter, body []byte, in *streamRef) (string, bool) {
	if err := json.Unmarshal(body, in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return "", false
	}
	name, ok := streamName(in.StreamName, in.StreamARN)
	if !ok {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", "StreamName or StreamARN is required")
	}
	return name, ok
}

func (s *Server) listShards(w http.ResponseWriter, body []byte) {
	var in struct {
		streamRef
		NextToken  string `json:"NextToken"`
		MaxResults int    `json:"MaxResults"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	from := 0
	if in.NextToken != "" {
		if _, err := fmt.Sscanf(in.NextToken, "next-%d", &from); err != nil || from < 0 || from > len(s.shards) {
			writeError(w, http.StatusBadRequest, "InvalidArgumentException", "bad NextToken")
			return
		}
	} else if _, ok := streamName(in.StreamName, in.StreamARN); !ok {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", "StreamName or StreamARN is required")
		return
	}
	limit := in.MaxResults
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	to := min(from+limit, len(s.shards))
	type hashRange struct{ StartingHashKey, EndingHashKey string }
	type seqRange struct{ StartingSequenceNumber string }
	type shardOut struct {
		ShardId             string
		HashKeyRange        hashRange
		SequenceNumberRange seqRange
	}
	out := struct {
		Shards    []shardOut
		NextToken string `json:",omitempty"`
	}{Shards: []shardOut{}}
	for i := from; i < to; i++ {
		sh := &s.shards[i]
		out.Shards = append(out.Shards, shardOut{
			ShardId:             sh.id,
			HashKeyRange:        hashRange{sh.startHash, sh.endHash},
			SequenceNumberRange: seqRange{string(sequenceNumber(nil, int64(i), -1))},
		})
	}
	if to < len(s.shards) {
		out.NextToken = fmt.Sprintf("next-%d", to)
	}
	writeJSON(w, out)
}

// iterator is "<shard index>/<next record index>/<stream>".
func iterator(sh int, n int64, stream string) string {
	return fmt.Sprintf("%d/%d/%s", sh, n, stream)
}

func parseIterator(it string) (sh int, n int64, stream string, ok bool) {
	parts := strings.SplitN(it, "/", 3)
	if len(parts) != 3 {
		return 0, 0, "", false
	}
	if _, err := fmt.Sscanf(parts[0]+" "+parts[1], "%d %d", &sh, &n); err != nil || n < 0 {
		return 0, 0, "", false
	}
	return sh, n, parts[2], true
}

type startingPosition struct {
	Type           string  `json:"Type"`
	SequenceNumber string  `json:"SequenceNumber"`
	Timestamp      float64 `json:"Timestamp"`
}

// position turns a starting position into the index of the first record to read.
func (s *Server) position(sh *shard, p startingPosition) (int64, error) {
	switch p.Type {
	case "TRIM_HORIZON":
		return 0, nil
	case "LATEST":
		return s.available(sh, time.Now()), nil
	case "AT_TIMESTAMP":
		at := time.Unix(0, int64(p.Timestamp*1e9))
		n := s.available(sh, at)
		if n > 0 && !s.arrival(sh, n-1).Before(at) {
			n--
		}
		return n, nil
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		n, ok := parseSequenceNumber(p.SequenceNumber, sh.index)
		if !ok {
			return 0, fmt.Errorf("sequence number %q is not of %s", p.SequenceNumber, sh.id)
		}
		if p.Type == "AFTER_SEQUENCE_NUMBER" {
			n++
		}
		return max(n, 0), nil
	}
	return 0, fmt.Errorf("unknown ShardIteratorType %q", p.Type)
}

func (s *Server) getShardIterator(w http.ResponseWriter, body []byte) {
	var in struct {
		streamRef
		ShardId                string  `json:"ShardId"`
		ShardIteratorType      string  `json:"ShardIteratorType"`
		StartingSequenceNumber string  `json:"StartingSequenceNumber"`
		Timestamp              float64 `json:"Timestamp"`
	}
	name, ok := decodeStream(w, body, &in.streamRef)
	if !ok {
		return
	}
	_ = json.Unmarshal(body, &in) // decodeStream parsed it already
	i, ok := s.shardIndex(in.ShardId)
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "shard "+in.ShardId+" does not exist")
		return
	}
	s.startClock(&s.shards[i])
	n, err := s.position(&s.shards[i], startingPosition{in.ShardIteratorType, in.StartingSequenceNumber, in.Timestamp})
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", err.Error())
		return
	}
	writeJSON(w, map[string]string{"ShardIterator": iterator(i, n, name)})
}

// maxGetRecordsBytes is GetRecords' response limit.
const maxGetRecordsBytes = 10 << 20

func (s *Server) getRecords(w http.ResponseWriter, body []byte) {
	var in struct {
		ShardIterator string `json:"ShardIterator"`
		Limit         int    `json:"Limit"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	i, n, stream, ok := parseIterator(in.ShardIterator)
	if !ok || i < 0 || i >= len(s.shards) {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", "invalid ShardIterator")
		return
	}
	limit := in.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	sh := &s.shards[i]
	now := time.Now()
	avail := s.available(sh, now)
	end := n + min(int64(limit), max(avail-n, 0), int64(maxGetRecordsBytes/s.recordBytes()))
	e := s.newEncoder()
	out := make([]byte, 0, 64+int(end-n)*int(s.recordBytes()*4/3+120))
	out = append(out, `{"Records":[`...)
	wire := now.UnixNano()
	for k := n; k < end; k++ {
		if k > n {
			out = append(out, ',')
		}
		out = e.appendRecord(out, sh, k, wire)
	}
	out = append(out, `],"NextShardIterator":"`...)
	out = append(out, iterator(i, end, stream)...)
	out = append(out, `","MillisBehindLatest":`...)
	out = fmt.Appendf(out, "%d}", s.behind(sh, end, avail, now))
	writeRaw(w, out)
}

// behind is MillisBehindLatest after reading up to record next: 0 at the tip.
func (s *Server) behind(sh *shard, next, avail int64, now time.Time) int64 {
	if next >= avail {
		return 0
	}
	return max(now.Sub(s.arrival(sh, next)).Milliseconds(), 1)
}

type consumerIn struct {
	StreamARN    string `json:"StreamARN"`
	ConsumerName string `json:"ConsumerName"`
	ConsumerARN  string `json:"ConsumerARN"`
}

func (s *Server) consumerDescription(streamARN, name, arn, status string) map[string]any {
	return map[string]any{
		"ConsumerName":              name,
		"ConsumerARN":               arn,
		"ConsumerStatus":            status,
		"ConsumerCreationTimestamp": s.epoch(),
		"StreamARN":                 streamARN,
	}
}

func (s *Server) registerStreamConsumer(w http.ResponseWriter, body []byte) {
	var in consumerIn
	if err := json.Unmarshal(body, &in); err != nil || in.StreamARN == "" || in.ConsumerName == "" {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", "StreamARN and ConsumerName are required")
		return
	}
	key := in.StreamARN + "/" + in.ConsumerName
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.consumers[key]; ok {
		writeError(w, http.StatusBadRequest, "ResourceInUseException", "consumer "+in.ConsumerName+" exists")
		return
	}
	arn := fmt.Sprintf("%s/consumer/%s:%d", in.StreamARN, in.ConsumerName, time.Now().Unix())
	s.consumers[key] = arn
	// Kinesis answers CREATING; the consumer is ACTIVE by the first describe here.
	writeJSON(w, map[string]any{"Consumer": s.consumerDescription(in.StreamARN, in.ConsumerName, arn, "CREATING")})
}

// findConsumer looks a consumer up by ARN or by stream ARN and name.
func (s *Server) findConsumer(in consumerIn) (streamARN, name, arn string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, a := range s.consumers {
		i := strings.LastIndex(key, "/") // consumer names have no slash
		st, n := key[:i], key[i+1:]
		if (in.ConsumerARN != "" && a == in.ConsumerARN) || (in.ConsumerARN == "" && st == in.StreamARN && n == in.ConsumerName) {
			return st, n, a, true
		}
	}
	return "", "", "", false
}

// requestedConsumer decodes a request naming a consumer and finds it, or writes the error.
func (s *Server) requestedConsumer(w http.ResponseWriter, body []byte) (streamARN, name, arn string, ok bool) {
	var in consumerIn
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return "", "", "", false
	}
	if streamARN, name, arn, ok = s.findConsumer(in); !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "consumer not found")
	}
	return streamARN, name, arn, ok
}

func (s *Server) describeStreamConsumer(w http.ResponseWriter, body []byte) {
	st, name, arn, ok := s.requestedConsumer(w, body)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"ConsumerDescription": s.consumerDescription(st, name, arn, "ACTIVE")})
}

func (s *Server) deregisterStreamConsumer(w http.ResponseWriter, body []byte) {
	st, name, _, ok := s.requestedConsumer(w, body)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.consumers, st+"/"+name)
	s.mu.Unlock()
	writeRaw(w, []byte("{}"))
}
