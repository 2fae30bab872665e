package worker

import (
	"strings"
	"testing"

	"github.com/hibiken/asynq"
)

func TestParseRedisDSN(t *testing.T) {
	t.Parallel()
	// Sentinel: the password reaches the master too, or master_password does.
	opt, err := ParseRedisDSN("redis-sentinel://:pw@h1:26379,h2:26379?master=mymaster")
	fo, ok := opt.(asynq.RedisFailoverClientOpt)
	if err != nil || !ok || fo.MasterName != "mymaster" || fo.SentinelPassword != "pw" || fo.Password != "pw" || len(fo.SentinelAddrs) != 2 {
		t.Fatalf("sentinel = %+v, %v", opt, err)
	}
	opt, _ = ParseRedisDSN("redis-sentinel://:spw@h1:26379?master=m&master_password=mpw")
	if fo := opt.(asynq.RedisFailoverClientOpt); fo.Password != "mpw" || fo.SentinelPassword != "spw" {
		t.Fatalf("sentinel with master_password = %+v", fo)
	}
	// Cluster.
	opt, err = ParseRedisDSN("redis-cluster://:pw@h1:6379,h2:6379")
	if co, ok := opt.(ClusterConnOpt); err != nil || !ok || len(co.Addrs) != 2 || co.Password != "pw" {
		t.Fatalf("cluster = %+v, %v", opt, err)
	}
	// A malformed DSN is refused without quoting its password.
	if _, err := ParseRedisDSN("redis://:secretpw@host:notaport/0"); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("malformed DSN error = %v", err)
	}
}
