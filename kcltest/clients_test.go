package kcltest_test

import (
	"errors"
	"testing"

	"github.com/kclgo/kcl/kcltest"
)

func TestEndpointsFromEnv(t *testing.T) {
	for name, tc := range map[string]struct {
		env     map[string]string
		wantErr bool
		want    kcltest.Endpoints
	}{
		"none":          {env: map[string]string{}, wantErr: true},
		"kinesis only":  {env: map[string]string{kcltest.EnvKinesisEndpoint: "http://127.0.0.1:1"}, wantErr: true},
		"dynamodb only": {env: map[string]string{kcltest.EnvDynamoDBEndpoint: "http://127.0.0.1:2"}, wantErr: true},
		"required two": {
			env:  map[string]string{kcltest.EnvKinesisEndpoint: "http://127.0.0.1:1", kcltest.EnvDynamoDBEndpoint: "http://127.0.0.1:2"},
			want: kcltest.Endpoints{Kinesis: "http://127.0.0.1:1", DynamoDB: "http://127.0.0.1:2"},
		},
		"all": {
			env: map[string]string{kcltest.EnvKinesisEndpoint: "http://127.0.0.1:1", kcltest.EnvDynamoDBEndpoint: "http://127.0.0.1:2",
				kcltest.EnvKinesisTLSEndpoint: "https://127.0.0.1:3", kcltest.EnvKinesaliteEndpoint: "http://127.0.0.1:4"},
			want: kcltest.Endpoints{Kinesis: "http://127.0.0.1:1", DynamoDB: "http://127.0.0.1:2", KinesisTLS: "https://127.0.0.1:3", Kinesalite: "http://127.0.0.1:4"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{kcltest.EnvKinesisEndpoint, kcltest.EnvDynamoDBEndpoint, kcltest.EnvKinesisTLSEndpoint, kcltest.EnvKinesaliteEndpoint} {
				t.Setenv(k, tc.env[k])
			}
			got, err := kcltest.EndpointsFromEnv()
			if tc.wantErr {
				if !errors.Is(err, kcltest.ErrNoEmulators) {
					t.Fatalf("err = %v, want ErrNoEmulators", err)
				}
				if _, err := kcltest.NewClients(); !errors.Is(err, kcltest.ErrNoEmulators) {
					t.Fatalf("NewClients: err = %v, want ErrNoEmulators", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("EndpointsFromEnv = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
