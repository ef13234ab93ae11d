package aggregation_test

import (
	"errors"
	"fmt"

	"github.com/kclgo/kcl/aggregation"
)

// A consumer keeps one Deaggregator per shard and one slice per batch, and appends the
// user records of each Kinesis record in turn.
func ExampleDeaggregator_Append() {
	enc := aggregation.NewEncoder(0)
	enc.Add(aggregation.Entry{Data: []byte("hello"), PartitionKey: "user-1"})
	enc.Add(aggregation.Entry{Data: []byte("world"), PartitionKey: "user-2"})
	batch := []aggregation.Record{
		{Data: enc.Encode(nil), PartitionKey: "a", SequenceNumber: "100"},
		{Data: []byte("sent without the KPL"), PartitionKey: "user-3", SequenceNumber: "101"},
	}

	var d aggregation.Deaggregator
	var users []aggregation.UserRecord
	for _, rec := range batch {
		var res aggregation.Result
		var err error
		users, res, err = d.Append(users, rec)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("record %s: %v, %d user records\n", rec.SequenceNumber, res.Kind, res.Records)
	}
	for _, u := range users {
		fmt.Printf("%s.%d %s %q\n", u.SequenceNumber, u.SubSequenceNumber, u.PartitionKey, u.Data)
	}
	// Output:
	// record 100: Aggregated, 2 user records
	// record 101: NotAggregated, 1 user records
	// 100.0 user-1 "hello"
	// 100.1 user-2 "world"
	// 101.0 user-3 "sent without the KPL"
}

// An aggregate that passes its checksum but refers past its tables is reported, with
// the record's sequence number, and none of its user records is delivered.
func ExampleCorruptError() {
	// Magic, a protobuf whose only user record uses partition key index 1 of a table of
	// one, then the MD5 of the protobuf.
	data := []byte("\xF3\x89\x9A\xC2" +
		"\x0A\x01k" + "\x1A\x05\x08\x01\x1A\x01x" +
		"\xde\xc9\x8d\xeb\x4c\x76\x9d\x3c\x9d\xcc\x9d\x72\x1e\xa0\xff\x8c")
	users, _, err := aggregation.Deaggregate(aggregation.Record{Data: data, SequenceNumber: "4711"})
	var corrupt *aggregation.CorruptError
	if errors.As(err, &corrupt) {
		fmt.Println(corrupt.SequenceNumber, corrupt.UserRecord, errors.Is(err, aggregation.ErrIndexOutOfRange), len(users))
	}
	// Output:
	// 4711 0 true 0
}

// The Encoder writes what the KPL writes; Flush also gives the partition key and
// explicit hash key to put the record with.
func ExampleEncoder() {
	enc := aggregation.NewEncoder(aggregation.DefaultMaxSize)
	for _, en := range []aggregation.Entry{
		{Data: []byte("one"), PartitionKey: "p"},
		{Data: []byte("two"), PartitionKey: "p", ExplicitHashKey: "0042"},
	} {
		if ok, err := enc.Add(en); !ok || err != nil {
			fmt.Println("flush first:", ok, err)
		}
	}
	// "0042" is written as "42", as the KPL writes it.
	fmt.Printf("%d bytes: %x\n", enc.Size(), enc.Encode(nil))
	// Kinesis routes the aggregate by its first user record's hash key, MD5("p").
	put, _ := enc.Flush()
	fmt.Println(put.PartitionKey, put.ExplicitHashKey)
	// Output:
	// 47 bytes: f3899ac20a0170120234321a0708001a036f6e651a09080010001a0374776f0a1e215c84d4b102a6485337e24a1b16
	// a 174832678556295648811075566251100652666
}

// Packing many user records into as few Kinesis records as the size limit allows.
func ExampleAggregate() {
	var entries []aggregation.Entry
	for i := range 1000 {
		entries = append(entries, aggregation.Entry{Data: make([]byte, 100), PartitionKey: fmt.Sprint("device-", i%7)})
	}
	records, err := aggregation.Aggregate(entries, aggregation.DefaultMaxSize)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range records {
		fmt.Println(len(r.Data), r.PartitionKey)
	}
	// Output:
	// 51182 a
	// 51182 a
	// 3906 a
}

// Filtering by the shard's hash-key range keeps the user records that belong to the
// shard and counts the others, where the KCL would drop the whole aggregate.
func ExampleNewDeaggregator() {
	enc := aggregation.NewEncoder(0)
	enc.Add(aggregation.Entry{Data: []byte("mine"), PartitionKey: "p", ExplicitHashKey: "100"})
	enc.Add(aggregation.Entry{Data: []byte("moved away"), PartitionKey: "p", ExplicitHashKey: "300"})
	enc.Add(aggregation.Entry{Data: []byte("mine too"), PartitionKey: "p", ExplicitHashKey: "199"})

	shard, err := aggregation.ParseHashKeyRange("0", "199")
	if err != nil {
		fmt.Println(err)
		return
	}
	d := aggregation.NewDeaggregator(shard)
	users, res, err := d.Append(nil, aggregation.Record{Data: enc.Encode(nil), SequenceNumber: "7"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range users {
		fmt.Printf("%d %q\n", u.SubSequenceNumber, u.Data)
	}
	fmt.Println("dropped", res.Dropped)
	// Output:
	// 0 "mine"
	// 2 "mine too"
	// dropped 1
}

func ExampleParseHashKey() {
	h, err := aggregation.ParseHashKey("170141183460469231731687303715884105728")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%#x %#x %v\n", h.Hi, h.Lo, h.Compare(aggregation.HashPartitionKey("a")) > 0)
	_, err = aggregation.ParseHashKey("340282366920938463463374607431768211456")
	fmt.Println(err)
	// Output:
	// 0x8000000000000000 0x0 true
	// aggregation: hash key "340282366920938463463374607431768211456": greater than 2^128-1
}
