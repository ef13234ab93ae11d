package testenv

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// LeaseTable returns a fresh, unique lease table name. The table is not created (creating it
// is the library's job); whatever exists under the name when t ends is deleted.
func (e *Env) LeaseTable(t testing.TB) string {
	t.Helper()
	name := UniqueName(t, "leases")
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := e.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Logf("DeleteTable %s: %v", name, err)
		}
	})
	return name
}
