package leases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
)

// DynamoDBAPI is the part of the DynamoDB client the lease table uses, with the SDK's own
// signatures: *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Table is a KCL-compatible lease table in DynamoDB. Its methods are safe for concurrent use.
type Table struct {
	ddb  DynamoDBAPI
	name string
	cfg  tableConfig
}

// TableOption configures a Table.
type TableOption func(*tableConfig)

type tableConfig struct {
	provisioned      bool
	readCapacity     int64
	writeCapacity    int64
	pollInterval     time.Duration
	activeTimeout    time.Duration
	logger           *slog.Logger
	scanPageLimit    int32
	deletionProtects bool
}

func defaultTableConfig() tableConfig {
	return tableConfig{
		pollInterval:  time.Second,
		activeTimeout: 10 * time.Minute,
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithProvisionedThroughput creates a missing table with provisioned capacity instead of
// on-demand (the default).
func WithProvisionedThroughput(readCapacityUnits, writeCapacityUnits int64) TableOption {
	return func(c *tableConfig) {
		c.provisioned, c.readCapacity, c.writeCapacity = true, readCapacityUnits, writeCapacityUnits
	}
}

// firstTablePoll is EnsureTable's first wait for ACTIVE; the waits double up to the poll interval.
const firstTablePoll = 25 * time.Millisecond

// WithTablePollInterval caps the wait between EnsureTable's checks whether the table is
// ACTIVE (default 1 s); the waits start at 25 ms and double.
func WithTablePollInterval(d time.Duration) TableOption {
	return func(c *tableConfig) { c.pollInterval = d }
}

// WithTableActiveTimeout bounds how long EnsureTable waits for ACTIVE (default 10 min).
func WithTableActiveTimeout(d time.Duration) TableOption {
	return func(c *tableConfig) { c.activeTimeout = d }
}

// WithTableLogger sets the logger (default: discard).
func WithTableLogger(l *slog.Logger) TableOption { return func(c *tableConfig) { c.logger = l } }

// WithScanPageLimit caps the items per Scan page (default: DynamoDB's 1 MB pages).
func WithScanPageLimit(n int32) TableOption { return func(c *tableConfig) { c.scanPageLimit = n } }

// WithDeletionProtection creates a missing table with deletion protection on.
func WithDeletionProtection() TableOption { return func(c *tableConfig) { c.deletionProtects = true } }

// NewTable returns the lease table tableName. It makes no call; EnsureTable creates or checks it.
func NewTable(ddb DynamoDBAPI, tableName string, opts ...TableOption) (*Table, error) {
	cfg := defaultTableConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case ddb == nil:
		return nil, errors.New("leases: NewTable: nil DynamoDB client")
	case tableName == "":
		return nil, errors.New("leases: NewTable: empty table name")
	case cfg.provisioned && (cfg.readCapacity < 1 || cfg.writeCapacity < 1):
		return nil, fmt.Errorf("leases: WithProvisionedThroughput: capacities must be >= 1, got %d/%d", cfg.readCapacity, cfg.writeCapacity)
	case cfg.pollInterval <= 0:
		return nil, fmt.Errorf("leases: WithTablePollInterval: must be > 0, got %v", cfg.pollInterval)
	case cfg.activeTimeout <= 0:
		return nil, fmt.Errorf("leases: WithTableActiveTimeout: must be > 0, got %v", cfg.activeTimeout)
	case cfg.logger == nil:
		return nil, errors.New("leases: WithTableLogger: nil logger")
	case cfg.scanPageLimit < 0:
		return nil, fmt.Errorf("leases: WithScanPageLimit: must be >= 0, got %d", cfg.scanPageLimit)
	}
	return &Table{ddb: ddb, name: tableName, cfg: cfg}, nil
}

// Name is the DynamoDB table name.
func (t *Table) Name() string { return t.name }

// EnsureTable creates the table when it is missing (hash key leaseKey, on-demand unless
// WithProvisionedThroughput), waits until it is ACTIVE, and checks that an existing table has
// the lease table's key schema (a *TableSchemaError otherwise).
func (t *Table) EnsureTable(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, t.cfg.activeTimeout,
		fmt.Errorf("lease table %s not ACTIVE within %v", t.name, t.cfg.activeTimeout))
	defer cancel()
	created := false
	polls := 0
	for {
		out, err := t.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)})
		var notFound *types.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			if !created {
				if err := t.create(ctx); err != nil {
					return err
				}
				created = true
			}
		case err != nil:
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("describe lease table %s: %w", t.name, err)
		default:
			if err := checkSchema(t.name, out.Table); err != nil {
				return err
			}
			switch out.Table.TableStatus {
			case types.TableStatusActive:
				return nil
			case types.TableStatusCreating, types.TableStatusUpdating, types.TableStatusDeleting:
				// Wait; a table being deleted is created afresh once it is gone.
			default:
				return fmt.Errorf("lease table %s is %s", t.name, out.Table.TableStatus)
			}
		}
		// Short first, then growing to the poll interval: dynalite and a new on-demand
		// table are often ACTIVE within a tenth of a second.
		wait := min(firstTablePoll<<min(polls, 10), t.cfg.pollInterval)
		polls++
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
}

func (t *Table) create(ctx context.Context) error {
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(t.name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrLeaseKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrLeaseKey), KeyType: types.KeyTypeHash},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
	if t.cfg.provisioned {
		in.BillingMode = types.BillingModeProvisioned
		in.ProvisionedThroughput = &types.ProvisionedThroughput{
			ReadCapacityUnits:  aws.Int64(t.cfg.readCapacity),
			WriteCapacityUnits: aws.Int64(t.cfg.writeCapacity),
		}
	}
	if t.cfg.deletionProtects {
		in.DeletionProtectionEnabled = aws.Bool(true)
	}
	_, err := t.ddb.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil // another worker is creating it (or it is being deleted): keep polling
	}
	if err != nil {
		return fmt.Errorf("create lease table %s: %w", t.name, err)
	}
	t.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "created lease table",
		slog.String("table", t.name), slog.String("billing", string(in.BillingMode)))
	return nil
}

func checkSchema(name string, td *types.TableDescription) error {
	if td == nil {
		return &TableSchemaError{Table: name, Reason: "DescribeTable returned no description"}
	}
	if len(td.KeySchema) != 1 {
		return &TableSchemaError{Table: name, Reason: fmt.Sprintf("key schema has %d attributes", len(td.KeySchema))}
	}
	k := td.KeySchema[0]
	if aws.ToString(k.AttributeName) != attrLeaseKey || k.KeyType != types.KeyTypeHash {
		return &TableSchemaError{Table: name, Reason: fmt.Sprintf("hash key is %s (%s)", aws.ToString(k.AttributeName), k.KeyType)}
	}
	for _, def := range td.AttributeDefinitions {
		if aws.ToString(def.AttributeName) == attrLeaseKey && def.AttributeType != types.ScalarAttributeTypeS {
			return &TableSchemaError{Table: name, Reason: fmt.Sprintf("leaseKey has type %s", def.AttributeType)}
		}
	}
	return nil
}

// ListLeases reads the whole table with strongly consistent, paged Scans. Rows that are not
// leases or do not parse come back in skipped (each a *RowError) and are left untouched.
func (t *Table) ListLeases(ctx context.Context) (leases []Lease, skipped []*RowError, err error) {
	in := &dynamodb.ScanInput{TableName: aws.String(t.name), ConsistentRead: aws.Bool(true)}
	if t.cfg.scanPageLimit > 0 {
		in.Limit = aws.Int32(t.cfg.scanPageLimit)
	}
	for {
		out, err := t.ddb.Scan(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("scan lease table %s: %w", t.name, err)
		}
		for _, item := range out.Items {
			l, err := decodeLease(item)
			if err != nil {
				var rowErr *RowError
				if errors.As(err, &rowErr) {
					skipped = append(skipped, rowErr)
					continue
				}
				return nil, nil, err
			}
			leases = append(leases, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return leases, skipped, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// GetLease reads one lease with a strongly consistent read. A missing row is
// ErrLeaseNotFound; a row that is not a lease or does not parse is a *RowError.
func (t *Table) GetLease(ctx context.Context, key string) (Lease, error) {
	l, found, err := t.get(ctx, key)
	if err != nil {
		return Lease{}, err
	}
	if !found {
		return Lease{}, fmt.Errorf("lease %s in table %s: %w", key, t.name, ErrLeaseNotFound)
	}
	return l, nil
}

func (t *Table) get(ctx context.Context, key string) (Lease, bool, error) {
	out, err := t.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.name),
		Key:            map[string]types.AttributeValue{attrLeaseKey: str(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("get lease %s: %w", key, err)
	}
	if len(out.Item) == 0 {
		return Lease{}, false, nil
	}
	l, err := decodeLease(out.Item)
	if err != nil {
		return Lease{}, false, err
	}
	return l, true, nil
}

// CreateLeaseIfAbsent writes l unless a row with its key exists (conditional put on
// attribute_not_exists(leaseKey)), so several workers may create the same lease, e.g. the
// children of a shard that ended. created says whether this call wrote it. l needs Key,
// ShardID and Checkpoint; Key must be LeaseKey(l.Stream, l.ShardID).
func (t *Table) CreateLeaseIfAbsent(ctx context.Context, l Lease) (created bool, err error) {
	item, err := encodeNewLease(l)
	if err != nil {
		return false, fmt.Errorf("create lease: %w", err)
	}
	_, err = t.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(t.name),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": attrLeaseKey},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create lease %s: %w", l.Key, err)
	}
	return true, nil
}

// DeleteLease deletes the lease row unconditionally (for garbage: shards that no longer
// exist). Deleting a missing row is not an error. A worker holding the lease loses it at
// its next renewal.
func (t *Table) DeleteLease(ctx context.Context, key string) error {
	_, err := t.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(t.name),
		Key:       map[string]types.AttributeValue{attrLeaseKey: str(key)},
	})
	if err != nil {
		return fmt.Errorf("delete lease %s: %w", key, err)
	}
	return nil
}

// DeleteFinishedLease deletes the lease only if its checkpoint is SHARD_END; otherwise it
// returns ErrLeaseNotFinished (or ErrLeaseNotFound) and deletes nothing.
func (t *Table) DeleteFinishedLease(ctx context.Context, key string) error {
	_, err := t.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.name),
		Key:                       map[string]types.AttributeValue{attrLeaseKey: str(key)},
		ConditionExpression:       aws.String("#cp = :end"),
		ExpressionAttributeNames:  map[string]string{"#cp": attrCheckpoint},
		ExpressionAttributeValues: map[string]types.AttributeValue{":end": str(checkpointer.ShardEndName)},
	})
	if isConditionFailed(err) {
		if _, found, gerr := t.get(ctx, key); gerr == nil && !found {
			return fmt.Errorf("delete finished lease %s: %w", key, ErrLeaseNotFound)
		}
		return fmt.Errorf("delete finished lease %s: %w", key, ErrLeaseNotFinished)
	}
	if err != nil {
		return fmt.Errorf("delete finished lease %s: %w", key, err)
	}
	return nil
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
