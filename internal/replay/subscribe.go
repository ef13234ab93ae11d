package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

var (
	initialResponseHeaders = eventstream.Headers{
		{Name: ":message-type", Value: eventstream.StringValue("event")},
		{Name: ":event-type", Value: eventstream.StringValue("initial-response")},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
	}
	eventHeaders = eventstream.Headers{
		{Name: ":message-type", Value: eventstream.StringValue("event")},
		{Name: ":event-type", Value: eventstream.StringValue("SubscribeToShardEvent")},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
	}
)

// subscribeToShard answers with an event stream: the initial-response, then records as
// they arrive (paced) or as fast as the client's HTTP/2 flow control lets them go, an empty
// event every Heartbeat while idle, and a clean end after SubscriptionLifetime.
func (s *Server) subscribeToShard(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ConsumerARN      string           `json:"ConsumerARN"`
		ShardId          string           `json:"ShardId"`
		StartingPosition startingPosition `json:"StartingPosition"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if _, _, _, ok := s.findConsumer(consumerIn{ConsumerARN: in.ConsumerARN}); !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "consumer "+in.ConsumerARN+" not found")
		return
	}
	i, ok := s.shardIndex(in.ShardId)
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "shard "+in.ShardId+" does not exist")
		return
	}
	sh := &s.shards[i]
	s.startClock(sh)
	n, err := s.position(sh, in.StartingPosition)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", err.Error())
		return
	}
	key := in.ConsumerARN + "|" + sh.id
	s.mu.Lock()
	if s.live[key] {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "ResourceInUseException", "another subscription to "+sh.id+" is live")
		return
	}
	s.live[key] = true
	s.subsWG.Add(1)
	s.mu.Unlock()
	s.activeSubs.Add(1)
	defer func() {
		s.activeSubs.Add(-1)
		s.mu.Lock()
		delete(s.live, key)
		s.mu.Unlock()
		s.subsWG.Done()
	}()

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	st := &eventWriter{w: w, rc: rc, enc: eventstream.NewEncoder()}
	if err := st.write(initialResponseHeaders, []byte("{}")); err != nil {
		return
	}
	s.pushEvents(r, st, sh, n)
}

type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
	buf bytes.Buffer
}

func (e *eventWriter) write(headers eventstream.Headers, payload []byte) error {
	e.buf.Reset()
	if err := e.enc.Encode(&e.buf, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		return err
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (s *Server) pushEvents(r *http.Request, st *eventWriter, sh *shard, n int64) {
	// One context ends the subscription: the client leaving, its lifetime, or Close.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SubscriptionLifetime)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	e := s.newEncoder()
	perEvent := max(int64(float64(s.cfg.MaxEventBytes)/s.recordBytes()), 1)
	var payload []byte
	lastEvent := time.Now()
	for ctx.Err() == nil {
		now := time.Now()
		avail := s.available(sh, now)
		if (avail > n && now.Sub(lastEvent) >= s.cfg.EventInterval) || now.Sub(lastEvent) >= s.cfg.Heartbeat {
			to := min(avail, n+perEvent)
			payload = append(payload[:0], `{"Records":[`...)
			wire := time.Now().UnixNano()
			for k := n; k < to; k++ {
				if k > n {
					payload = append(payload, ',')
				}
				payload = e.appendRecord(payload, sh, k, wire)
			}
			payload = append(payload, `],"ContinuationSequenceNumber":"`...)
			// The last record sent, or before the first: resubscribing after it skips nothing.
			payload = sequenceNumber(payload, int64(sh.index), to-1)
			payload = append(payload, `","MillisBehindLatest":`...)
			payload = strconv.AppendInt(payload, s.behind(sh, to, avail, now), 10)
			payload = append(payload, '}')
			if err := st.write(eventHeaders, payload); err != nil {
				return
			}
			n = to
			lastEvent = time.Now()
			continue
		}
		d := s.cfg.Heartbeat - now.Sub(lastEvent)
		if s.more(n) {
			d = min(d, max(time.Until(s.arrival(sh, n)), s.cfg.EventInterval-now.Sub(lastEvent)))
		}
		wait.Reset(max(d, 0))
		select {
		case <-wait.C:
		case <-ctx.Done():
		}
	}
}
