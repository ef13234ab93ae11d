// Package faults is a test-only fault injector for the AWS SDK clients that tests point at
// the local emulators. It wraps a client's http.RoundTripper, so every byte that is not a
// fault still comes from the real emulator. The library itself never imports this package.
//
// # Usage
//
//	inj := faults.New()
//	kc := env.NewKinesis(inj.Wrap)   // inj.Wrap is a testenv.Wrapper
//	ddb := env.NewDynamoDB(inj.Wrap)
//	h := inj.Add(faults.Rule{
//		Op:    "GetRecords",           // X-Amz-Target after the dot; "" = every operation
//		Shard: "shardId-000000000001", // "" = any shard (GetRecords: learnt from its iterator)
//		Skip:  2,                      // let the first 2 fitting calls through
//		Times: 3,                      // then inject 3 times; 0 = every time until removed
//		Fault: faults.Throttle(),
//		Match: func(c faults.Call) bool { return true }, // optional, e.g. c.Key("leaseKey") == "shardId-000000000001"
//	})
//	h.Hits(); h.Seen(); h.Wait(ctx, n); h.Remove(); inj.RemoveAll()
//	inj.Calls("GetRecords") // []Call: Seq, Time, Service, Op, Shard, Stream, Table, Body, Injected, Fault
//	inj.Log()               // every call, in order
//
// Rules are consulted in the order added. Every fitting rule counts the call (Seen); the first
// one that is due (past Skip, within Times) and has a Fault answers it. A rule without a Fault
// only observes. Tests that need the fault itself, not the SDK's recovery from it, turn SDK
// retries off: kinesis.Options.Retryer = aws.NopRetryer{}.
//
// # Faults and what they imitate
//
// AWS errors (APIError, HTTP 400 unless noted, body {"__type","message"}, X-Amzn-ErrorType;
// the SDK decodes them into its typed errors, e.g. *types.ProvisionedThroughputExceededException).
// By default the request never reaches the emulator, as with a real throttle;
// AfterForward lets it take effect and still reports the error:
//
//	Throttle()             ProvisionedThroughputExceededException (Kinesis or DynamoDB)
//	LimitExceeded()        LimitExceededException
//	ResourceInUse()        ResourceInUseException
//	ResourceNotFound()     ResourceNotFoundException
//	AccessDenied()         AccessDeniedException, a permanent error
//	ExpireIterator()       ExpiredIteratorException for GetRecords
//	InternalFailure()      Kinesis InternalFailureException / DynamoDB InternalServerError (500)
//	Throttling()           DynamoDB ThrottlingException
//	RequestLimitExceeded() DynamoDB RequestLimitExceeded
//	APIError{Kinesis: "...", DynamoDB: "ns#...", Message, Status, Forward} for any other
//
// Connection resets (the caller gets a *net.OpError wrapping syscall.ECONNRESET, as from
// net/http, so the SDK's retryer treats it as a real reset):
//
//	ResetBefore()    the request never reaches the emulator
//	ResetAfter()     the emulator handled it, the response is lost (idempotency tests)
//	ResetMidBody(n)  the response body breaks off after n bytes
//
// Stalls: Stall{For: d} lets the emulator answer and holds the answer for d, or until the
// request's context is done, which fails the call with the context's error;
// Stall{For: d, BeforeRequest: true} holds the request instead, so a caller that gives up
// leaves no trace in the emulator.
//
// SubscribeToShard event streams (the fault decodes the emulator's messages as the caller
// reads them and passes the ones it keeps on byte for byte; the initial-response message
// passes untouched and is not counted; any other answer passes unchanged):
//
//	CutStream{AfterEvents: n}                        n events, then a clean end (io.EOF), like the 5-minute close
//	CutStream{AfterEvents: n, Err: ConnReset(nil)}   n events, then a connection reset
//	HangStream{AfterEvents: n}                       n events, then silence until the caller closes or its context ends
//	StreamException{AfterEvents: n, Type: "InternalFailureException"}  n events, then an exception inside the stream
//	EndShard{Children: children}                     the shard's events until caught up, then a final event with
//	                                                 ChildShards and no ContinuationSequenceNumber, then the end
//
// kinesis-local never ends a subscription to a closed shard; EndShard is how the enhanced
// fan-out shard-end path is exercised. ChildrenOf(ctx, client, stream, shardID) lists a
// closed shard's children from ListShards, as Kinesis reports them. EndShard takes the first
// event with no records and MillisBehindLatest 0 as caught up; set LastSequenceNumber (the
// shard's last record) to wait for that record in any case.
//
// FaultFunc adapts a function for anything else.
//
// # A race in the SDK, not in this package
//
// smithy-go v1.28.8 (as pinned) shares one event-stream codec between all SubscribeToShard
// streams of a *kinesis.Client without a lock (aws/smithy-go#714), so -race fails any test
// in which two subscriptions of one client overlap, with or without this package. Giving each
// call a protocol of its own avoids it:
//
//	client.SubscribeToShard(ctx, in, func(o *kinesis.Options) {
//		o.Protocol = awsjson.New11(schemas.Kinesis_20131202) // smithy-go/transport/http/protocol/awsjson, service/kinesis/schemas
//	})
package faults
