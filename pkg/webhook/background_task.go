package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// TaskStatus is where a background task is: running until it finishes or fails.
type TaskStatus string

// The contract's BackgroundTaskStatus.
const (
	TaskRunning  TaskStatus = "running"
	TaskFinished TaskStatus = "finished"
	TaskFailed   TaskStatus = "failed"
)

// ValidTaskStatus reports whether s is one of the contract's statuses.
func ValidTaskStatus(s string) bool {
	return slices.Contains([]TaskStatus{TaskRunning, TaskFinished, TaskFailed}, TaskStatus(s))
}

// TaskKind says what a background task does (the contract's BackgroundTaskType).
type TaskKind string

// The kinds hookd runs.
const (
	// TaskEndpointRecover restarts the retry schedule of an endpoint's
	// failed deliveries in a time range (POST .../endpoint/{id}/recover).
	TaskEndpointRecover TaskKind = "endpoint.recover"
	// TaskEndpointBulkReplay sends an endpoint's deliveries in a time range
	// again, filtered (POST .../endpoint/{id}/bulk-replay).
	TaskEndpointBulkReplay TaskKind = "endpoint.bulk-replay"
	// TaskEndpointReplay sends an endpoint the messages of a time range it
	// never received (POST .../endpoint/{id}/replay-missing).
	TaskEndpointReplay TaskKind = "endpoint.replay"
	// TaskMessageBroadcast publishes one message to every application of
	// an organisation with a matching endpoint (POST /msg/broadcast).
	TaskMessageBroadcast TaskKind = "message.broadcast"
	// TaskEndpointCancel cancels an endpoint's pending and retrying
	// deliveries of messages created before a time (POST
	// .../endpoint/{id}/cancel-msgs). It is hookd's own kind, not the
	// contract's: the API neither lists nor shows it, since the SDKs
	// refuse task types they do not know.
	TaskEndpointCancel TaskKind = "endpoint.cancel"
)

// taskKinds are the kinds the contract names; hookd runs those a worker
// has a runner for, and a list filter may name any of them.
var taskKinds = []TaskKind{
	"endpoint.replay", TaskEndpointRecover, "application.stats", "message.broadcast",
	"sdk.generate", "event-type.aggregate", "application.purge_content", "endpoint.bulk-replay",
}

// ValidTaskKind reports whether s is one of the contract's task kinds.
func ValidTaskKind(s string) bool { return slices.Contains(taskKinds, TaskKind(s)) }

// ContractTaskKinds returns the contract's task kinds: those the API shows.
func ContractTaskKinds() []TaskKind { return slices.Clone(taskKinds) }

// BackgroundTask is work too long for one request (recovering, replaying
// or broadcasting many messages), done by the workers in batches. It is
// stored, so that its status can be read and a worker that dies mid-way is
// replaced by another that resumes from Cursor.
type BackgroundTask struct {
	ID    string
	OrgID string
	// AppID is the application the task acts on; "" for a task of the whole
	// organisation. App-portal tokens see only their application's tasks.
	AppID  string
	Kind   TaskKind
	Status TaskStatus
	// Params is what the task was asked to do: a JSON object whose shape
	// depends on Kind. It does not change.
	Params json.RawMessage
	// Data is what the task reports (counts so far; "error" when it
	// failed): a JSON object, the contract's BackgroundTaskOut.data.
	Data json.RawMessage
	// Cursor is where the next batch starts, in terms only the kind's
	// runner understands; "" before the first batch.
	Cursor string
	// Errors counts the batches in a row that failed on infrastructure;
	// a task gives up after a few.
	Errors    int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewBackgroundTask returns a running task of kind with params (encoded as
// JSON) and empty data, ready to be stored.
func NewBackgroundTask(orgID, appID string, kind TaskKind, params any) (*BackgroundTask, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding %s task parameters: %w", kind, err)
	}
	return &BackgroundTask{
		ID: NewID(PrefixTask), OrgID: orgID, AppID: appID, Kind: kind,
		Status: TaskRunning, Params: raw, Data: json.RawMessage(`{}`),
	}, nil
}

// TaskFilter narrows a list of background tasks; zero fields match all.
type TaskFilter struct {
	// AppID restricts the list to one application's tasks (portal tokens).
	AppID  string
	Status TaskStatus
	Kind   TaskKind
	// Kinds, when set, keeps only tasks of these kinds.
	Kinds []TaskKind
}

// BackgroundTaskStore persists background tasks. The first three methods
// serve the API and are scoped to one organisation; the last two are the
// workers' lease protocol.
type BackgroundTaskStore interface {
	// CreateBackgroundTask stores t (status running, CreatedAt and
	// UpdatedAt set by the store); a worker may claim it at once.
	CreateBackgroundTask(ctx context.Context, t *BackgroundTask) error
	// FindBackgroundTask returns the organisation's task id; ENOTFOUND if none.
	FindBackgroundTask(ctx context.Context, orgID, id string) (*BackgroundTask, error)
	// ListBackgroundTasks pages through the organisation's tasks by id
	// (creation time), newest first by default.
	ListBackgroundTasks(ctx context.Context, orgID string, f TaskFilter, opt ListOptions) (Page[BackgroundTask], error)

	// ClaimBackgroundTask leases to owner, for lease, one running task of
	// one of kinds whose lease has expired (a new task's has), skipping
	// rows other workers are claiming, and returns it; nil when there is
	// none. The lease is what lets another worker resume a task whose
	// worker died.
	ClaimBackgroundTask(ctx context.Context, owner string, kinds []TaskKind, lease time.Duration) (*BackgroundTask, error)
	// SaveBackgroundTask stores t's Status, Data, Cursor and Errors if
	// owner still holds its lease, and extends the lease by lease from now
	// (0 or a finished task: released). It returns ELEASELOST when the
	// lease passed to another worker: the caller must stop working on t.
	SaveBackgroundTask(ctx context.Context, t *BackgroundTask, owner string, lease time.Duration) error
}
