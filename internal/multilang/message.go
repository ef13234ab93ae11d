package multilang

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Actions of the protocol. The daemon sends the first six; a child sends status and
// checkpoint, and the daemon answers a checkpoint with a checkpoint.
const (
	ActionInitialize        = "initialize"
	ActionProcessRecords    = "processRecords"
	ActionLeaseLost         = "leaseLost"
	ActionShardEnded        = "shardEnded"
	ActionShutdownRequested = "shutdownRequested"
	ActionShutdown          = "shutdown" // protocol version 1, with a reason
	ActionStatus            = "status"
	ActionCheckpoint        = "checkpoint"
)

// Reasons of the version 1 shutdown message.
const (
	ReasonTerminate = "TERMINATE" // the shard ended; the child checkpoints to finish it
	ReasonZombie    = "ZOMBIE"    // the lease was lost or the daemon is stopping
)

// Error names a checkpoint reply carries: the simple names of the Java exceptions the KCL
// clients map to their own errors.
const (
	ErrNameShutdown        = "ShutdownException"     // the lease is lost
	ErrNameInvalidState    = "InvalidStateException" // no checkpointer for this message
	ErrNameThrottling      = "ThrottlingException"
	ErrNameDependency      = "KinesisClientLibDependencyException"
	ErrNameIllegalArgument = "IllegalArgumentException" // bad or out-of-range position
)

// Record is a record of a processRecords message, as the Java daemon writes it: Data is
// base64 in JSON, the timestamp is epoch milliseconds.
type Record struct {
	Data                        []byte `json:"data"`
	PartitionKey                string `json:"partitionKey"`
	SequenceNumber              string `json:"sequenceNumber"`
	ApproximateArrivalTimestamp *int64 `json:"approximateArrivalTimestamp"`
	SubSequenceNumber           int64  `json:"subSequenceNumber"`
	Action                      string `json:"action"` // always "record"
}

// Outgoing messages, field for field as the Java daemon writes them.
type initializeMessage struct {
	Action            string  `json:"action"`
	ShardID           string  `json:"shardId"`
	SequenceNumber    *string `json:"sequenceNumber"`
	SubSequenceNumber *int64  `json:"subSequenceNumber"`
}

type processRecordsMessage struct {
	Action             string   `json:"action"`
	Records            []Record `json:"records"`
	MillisBehindLatest int64    `json:"millisBehindLatest"`
}

type bareMessage struct {
	Action string `json:"action"`
}

type shutdownMessage struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

type checkpointReply struct {
	Action            string  `json:"action"`
	SequenceNumber    *string `json:"sequenceNumber"`
	SubSequenceNumber *int64  `json:"subSequenceNumber"`
	Error             *string `json:"error"`
}

// EncodeInitialize is the initialize message for a shard starting after position seq/sub;
// seq is nil when the shard has no checkpoint.
func EncodeInitialize(shardID string, seq *string, sub *int64) []byte {
	return mustLine(initializeMessage{Action: ActionInitialize, ShardID: shardID, SequenceNumber: seq, SubSequenceNumber: sub})
}

// EncodeProcessRecords is a processRecords message.
func EncodeProcessRecords(records []Record, millisBehindLatest int64) []byte {
	if records == nil {
		records = []Record{}
	}
	return mustLine(processRecordsMessage{Action: ActionProcessRecords, Records: records, MillisBehindLatest: millisBehindLatest})
}

// EncodeBare is a message with only an action: leaseLost, shardEnded, shutdownRequested.
func EncodeBare(action string) []byte { return mustLine(bareMessage{Action: action}) }

// EncodeShutdown is the version 1 shutdown message.
func EncodeShutdown(reason string) []byte {
	return mustLine(shutdownMessage{Action: ActionShutdown, Reason: reason})
}

// EncodeCheckpointReply answers a checkpoint request; errName is "" on success. It echoes
// the position the child asked for, as the Java daemon does.
func EncodeCheckpointReply(seq *string, sub *int64, errName string) []byte {
	m := checkpointReply{Action: ActionCheckpoint, SequenceNumber: seq, SubSequenceNumber: sub}
	if errName != "" {
		m.Error = &errName
	}
	return mustLine(m)
}

// mustLine marshals a message of the types above (which cannot fail) and ends the line.
func mustLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("multilang: marshal %T: %v", v, err)) // only fixed types reach here
	}
	return append(b, '\n')
}

// NewRecord converts a record for a processRecords message.
func NewRecord(data []byte, partitionKey, seq string, sub uint64, arrival time.Time) Record {
	r := Record{Data: data, PartitionKey: partitionKey, SequenceNumber: seq, SubSequenceNumber: int64(sub), Action: "record"}
	if !arrival.IsZero() {
		ms := arrival.UnixMilli()
		r.ApproximateArrivalTimestamp = &ms
	}
	return r
}

// Message is what a child sent: a status reply or a checkpoint request.
type Message struct {
	Action string
	// ResponseFor is the action a status message answers.
	ResponseFor string
	// SequenceNumber and SubSequenceNumber are a checkpoint's position; nil SequenceNumber
	// asks for a checkpoint after every record delivered so far.
	SequenceNumber    *string
	SubSequenceNumber *int64
}

// ErrNotAMessage marks a line that is not a message a child may send; the reader skips it.
var ErrNotAMessage = errors.New("not a message from a record processor")

// wireMessage is lenient where Jackson is: numbers may come as JSON strings and the
// sequence number as a JSON number.
type wireMessage struct {
	Action            *string         `json:"action"`
	ResponseFor       *string         `json:"responseFor"`
	SequenceNumber    json.RawMessage `json:"sequenceNumber"`
	SubSequenceNumber json.RawMessage `json:"subSequenceNumber"`
}

// ParseMessage decodes one line from a child. Anything but a status or checkpoint message
// is an error wrapping ErrNotAMessage.
func ParseMessage(line []byte) (Message, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Message{}, fmt.Errorf("%w: not a JSON object", ErrNotAMessage)
	}
	var w wireMessage
	if err := json.Unmarshal(line, &w); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrNotAMessage, err)
	}
	if w.Action == nil {
		return Message{}, fmt.Errorf("%w: no action", ErrNotAMessage)
	}
	m := Message{Action: *w.Action}
	switch m.Action {
	case ActionStatus:
		if w.ResponseFor != nil {
			m.ResponseFor = *w.ResponseFor
		}
	case ActionCheckpoint:
		seq, err := jsonText(w.SequenceNumber)
		if err != nil {
			return Message{}, fmt.Errorf("%w: sequenceNumber: %v", ErrNotAMessage, err)
		}
		m.SequenceNumber = seq
		subText, err := jsonText(w.SubSequenceNumber)
		if err != nil {
			return Message{}, fmt.Errorf("%w: subSequenceNumber: %v", ErrNotAMessage, err)
		}
		if subText != nil {
			sub, err := strconv.ParseInt(*subText, 10, 64)
			if err != nil {
				return Message{}, fmt.Errorf("%w: subSequenceNumber %q is not an integer", ErrNotAMessage, *subText)
			}
			m.SubSequenceNumber = &sub
		}
	default:
		return Message{}, fmt.Errorf("%w: action %q", ErrNotAMessage, m.Action)
	}
	return m, nil
}

// jsonText returns a JSON string's or number's text, nil for absent or null.
func jsonText(raw json.RawMessage) (*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		s := n.String()
		return &s, nil
	}
	return nil, fmt.Errorf("%s is neither a string nor a number", truncate(raw, 40))
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
