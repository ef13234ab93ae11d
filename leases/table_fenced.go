package leases

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
)

// The fenced writes of the lease protocol. Each bumps leaseCounter and is conditioned on the
// counter this worker last saw (and, except for taking, on this worker owning the lease), so
// a failed condition means somebody else changed the lease. They only touch the attributes
// they own (UpdateItem, never a whole-item put), so attributes written by KCL 3.x survive.

// Placeholders for every attribute name: some (checkpoint among them) are close to DynamoDB's
// reserved words, and placeholders make that question moot.
var fencedNames = map[string]string{
	"#o": attrLeaseOwner,
	"#c": attrLeaseCounter,
}

func fencedInput(table, key string, update, condition string, names map[string]string, values map[string]types.AttributeValue) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{attrLeaseKey: str(key)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

func withNames(extra map[string]string) map[string]string {
	m := make(map[string]string, len(fencedNames)+len(extra))
	for k, v := range fencedNames {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

const ownedCondition = "#o = :owner AND #c = :counter"

// renew bumps the counter of a lease this worker owns.
func (t *Table) renew(ctx context.Context, key, owner string, counter int64) error {
	_, err := t.ddb.UpdateItem(ctx, fencedInput(t.name, key, "SET #c = :next", ownedCondition, withNames(nil),
		map[string]types.AttributeValue{":owner": str(owner), ":counter": num(counter), ":next": num(counter + 1)}))
	return err
}

// take makes owner the owner of the lease as seen (its owner and counter, so the take fails
// if anybody renewed, took or released it since), and clears KCL 3.x's checkpointOwner as
// KCL's own take does. It returns the new counter.
func (t *Table) take(ctx context.Context, seen Lease, owner string) (int64, error) {
	update := "SET #o = :owner, #c = :next"
	names := withNames(map[string]string{"#co": attrCheckpointOwner})
	values := map[string]types.AttributeValue{":owner": str(owner), ":counter": num(seen.Counter), ":next": num(seen.Counter + 1)}
	// DynamoDB refuses values an expression does not use: add each only where it is used.
	condition := "#c = :counter AND (attribute_not_exists(#o) OR #o = :empty)" // no owner, or an empty one
	values[":empty"] = str("")
	if seen.Owner != "" {
		condition = "#c = :counter AND #o = :previous"
		delete(values, ":empty")
		values[":previous"] = str(seen.Owner)
	}
	if (seen.Owner != "" && seen.Owner != owner) || seen.CheckpointOwner == owner {
		update += ", #sw = if_not_exists(#sw, :zero) + :one"
		names["#sw"] = attrOwnerSwitches
		values[":zero"] = num(0)
		values[":one"] = num(1)
	}
	update += " REMOVE #co"
	_, err := t.ddb.UpdateItem(ctx, fencedInput(t.name, seen.Key, update, condition, names, values))
	if err != nil {
		return 0, err
	}
	return seen.Counter + 1, nil
}

// release gives up a lease this worker owns: no owner, counter bumped, so any worker may take
// it at its next taker cycle.
func (t *Table) release(ctx context.Context, key, owner string, counter int64) error {
	names := withNames(map[string]string{"#co": attrCheckpointOwner})
	_, err := t.ddb.UpdateItem(ctx, fencedInput(t.name, key, "SET #c = :next REMOVE #o, #co", ownedCondition, names,
		map[string]types.AttributeValue{":owner": str(owner), ":counter": num(counter), ":next": num(counter + 1)}))
	return err
}

// checkpoint records position on a lease this worker owns, resets the owner-switch count
// and clears any pending (two-phase) checkpoint, as KCL's checkpoint does. children, when
// given (at SHARD_END), are recorded as childShardIds.
func (t *Table) checkpoint(ctx context.Context, key, owner string, counter int64, position checkpointer.ExtendedSequenceNumber, children []string) error {
	names := withNames(map[string]string{
		"#cp": attrCheckpoint, "#cps": attrCheckpointSub, "#sw": attrOwnerSwitches,
		"#pcp": attrPendingCheckpoint, "#pcps": attrPendingCheckpointSub, "#pcs": attrPendingCheckpointState,
	})
	values := map[string]types.AttributeValue{
		":owner": str(owner), ":counter": num(counter), ":next": num(counter + 1),
		":seq":  str(position.SequenceNumber()),
		":sub":  &types.AttributeValueMemberN{Value: strconv.FormatInt(position.SubSequenceNumber(), 10)},
		":zero": num(0),
	}
	update := "SET #c = :next, #cp = :seq, #cps = :sub, #sw = :zero"
	if ss := stringSet(children); ss != nil {
		names["#ch"] = attrChildShardIDs
		values[":children"] = ss
		update += ", #ch = :children"
	}
	update += " REMOVE #pcp, #pcps, #pcs"
	_, err := t.ddb.UpdateItem(ctx, fencedInput(t.name, key, update, ownedCondition, names, values))
	return err
}
