// Tasks in the database. Two faces:
//  - the API's, for a caller: every method takes the Principal first and sees only its
//    organization's rows (another tenant's task or agent is kNotFound, like a missing one);
//  - the workers', for one organization named by a queue message: claim, heartbeat, finish,
//    retry, release, and recovery across organizations.
//
// Every state change is a conditional UPDATE on the current status (and, for a running task, on
// `attempts`, which fences off a worker whose lease was taken over), so a duplicate delivery or a
// late worker can never move a finished task or write a second result. Whenever a task becomes
// `queued`, the same transaction adds its queue message to the outbox.
//
// Each task has a queue generation, carried by its messages (queue_body): every change that writes
// a new message for a task (retry, deferral, recovery, release, a lost message sent again) moves
// the generation on in the same statement. Only a message of the task's current generation can
// claim or defer it; an older one is a stale duplicate (a relay that sent a row twice, a message
// that was only late when a sweep sent another) and is dropped, so duplicates die out instead of
// each being deferred into a further message.
//
// Errors: kNotFound, kConflict (a terminal task cannot be cancelled; an idempotency key reused for
// another request), kRateLimited (the organization's queued-task limit), and the database's
// kUnavailable / kInternal. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "db/database.hpp"
#include "platform/clock.hpp"
#include "platform/principal.hpp"
#include "tasks/group_commit.hpp"
#include "tasks/task.hpp"

namespace atrium::tasks {

// How old a count of an organization's queued tasks may be for create() to rely on it.
inline constexpr std::chrono::seconds kQueuedRecount{1};

// Runs inside a store transaction after the change (e.g. writes the audit entry); an error
// rolls the change back.
using AlsoInTx = std::function<Result<void>(db::Tx&, const Task&)>;

// Checks a new task's input for its agent's executor (kInvalidRequest with field errors); with
// no executor named, whether the input is valid whatever the agent's executor is.
using CheckInput =
    std::function<Result<void>(std::optional<std::string_view> executor, const nlohmann::json&)>;

struct NewTask {
  std::string agent_id;
  nlohmann::json input = nlohmann::json::object();
  std::optional<std::string> idempotency_key;
  std::string id;  // the new task's id (a UUIDv7), chosen by the caller; empty = one is made
};

struct CreateLimits {
  int max_queued = 10000;  // the organization's queued tasks; kRateLimited beyond
  int retry_after_seconds = 5;
};

struct Created {
  Task task;
  bool replayed = false;  // the idempotency key named an existing task, returned as it is
};

struct ListQuery {
  std::optional<std::string> agent_id;
  std::optional<Status> status;
  std::optional<std::string> before_id;  // cursor: tasks created before this one
  std::size_t limit = 50;
};

struct Claimed {
  Task task;
  Agent agent;
};

// Why a claim did not take the task.
enum class ClaimRefusal {
  kNotClaimable,  // not queued (finished, cancelled, running elsewhere) or gone: drop the message
  kDeferred,      // queued but not yet due, or its organization is busy: a later message is queued
  kStale,         // the message's generation is not the task's: a newer message exists, drop this
};

struct TaskRef {
  std::string id;
  std::string organization_id;
};

// A claim's outcome for TaskStore::finish_all: the arguments of finish().
struct Finish {
  TaskRef ref;
  int attempt = 0;
  Status status = Status::kSucceeded;
  nlohmann::json output;
  std::optional<std::string> error;
};

class TaskStore {
 public:
  TaskStore(db::Database& db, const Clock& clock);

  // --- the API's face

  // A new queued task of the caller's agent, with its outbox message; or, when the idempotency
  // key is already used in the organization, that task (kConflict if it was for another agent
  // or input). Concurrent duplicates resolve to one task. One transaction: the agent (kNotFound),
  // `check` on the input, the key, the queued limit (kRateLimited), the rows. A create racing
  // the deletion of its agent either commits first (the deletion then deletes its task) or
  // answers kNotFound: a task never outlives its agent.
  //
  // On PostgreSQL, an input valid for every executor (`check` with no executor, or no `check`)
  // does not need the agent's executor: the agent is then not read first, and the insert's own
  // check (a trigger, migrations/postgres/0009) proves that it exists in the organization — the
  // whole create is one round trip. A refused insert is re-run reading the agent (kNotFound).
  // SQLite's foreign key names the agent alone, not its organization: there it is always read.
  //
  // Creates without an idempotency key share their transaction (a group commit,
  // tasks/group_commit.hpp). On PostgreSQL organizations are spread over kCreateLanes lanes by a
  // hash of their id, so that one organization's burst does not hold up the others'; the creates
  // of a lane that arrive while kCreateWriters transactions of its creates are being written wait
  // and go together, an organization's in one transaction, checked one by one and written in one
  // round trip. SQLite, whose writes run one at a time anyway, has one lane and one writer. A
  // lone create is written at once. When the database refuses an insert of such a
  // batch (kConflict: its agent was deleted), the batch is rolled back and each of its creates
  // runs alone, so a create's answer is what it would have been alone.
  //
  // The queued limit is enforced from a count of the organization's queued tasks taken at most
  // kQueuedRecount ago plus the tasks this store created since, and counted afresh whenever that
  // estimate reaches the limit: a refusal is always exact, while tasks queued meanwhile by other
  // processes or by retries may let an organization exceed the limit briefly. Counting on every
  // create would cost time in proportion to the backlog, inside the write transaction.
  Result<Created> create(const Principal& caller, const NewTask& task, const CreateLimits& limits,
                         const CheckInput& check = nullptr, const AlsoInTx& also = nullptr);
  // The group commit lane of an organization's creates, and the creates waiting in it for a
  // writer (tests).
  std::size_t create_lane(const std::string& org) const;
  std::size_t creates_waiting(const std::string& org) const {
    return creates_[create_lane(org)]->waiting();
  }
  // The executor of the caller's agent; kNotFound.
  Result<std::string> agent_executor(const Principal& caller, const std::string& agent_id);
  Result<Task> get(const Principal& caller, const std::string& id);
  // Newest first. With `limit` + 1 rows fetched, the caller learns whether there is a next page.
  Result<std::vector<Task>> list(const Principal& caller, const ListQuery& query);
  // queued | running → cancelled at once; a terminal task → kConflict.
  Result<Task> cancel(const Principal& caller, const std::string& id,
                      const AlsoInTx& also = nullptr);

  // --- the workers' face (the organization comes from the queue message)

  // queued → running for a message of `generation`: attempts + 1, started_at, a lease until
  // `lease_until`. A task not due yet (retry back-off) gets a message at its due time instead,
  // and one whose organization already runs `max_running` tasks (0 = no cap) a message after
  // `busy_delay`: kDeferred, the task moving to the next generation. A message of another
  // generation changes nothing: kStale.
  Result<std::variant<Claimed, ClaimRefusal>> claim(const TaskRef& ref, std::int64_t generation,
                                                    TimePoint lease_until, int max_running,
                                                    std::chrono::milliseconds busy_delay);
  // Extends the lease of the claim made at `attempt`; false when the task is no longer that
  // claim's (cancelled, or recovered after an expired lease): the worker must stop.
  Result<bool> heartbeat(const TaskRef& ref, int attempt, TimePoint lease_until);
  // running → succeeded (output) | failed (error), for the claim made at `attempt`; nullopt when
  // the task is no longer that claim's (its result is then discarded).
  Result<std::optional<Task>> finish(const TaskRef& ref, int attempt, Status status,
                                     const nlohmann::json& output,
                                     const std::optional<std::string>& error);
  // finish() for several claims of ONE organization (each `ref.organization_id` the same) in one
  // transaction — on PostgreSQL one statement — so that workers finishing together pay for one
  // round trip. Results in the order of `finishes`, each as finish()'s. An error is the whole
  // transaction's: nothing was written.
  Result<std::vector<std::optional<Task>>> finish_all(std::span<const Finish> finishes);
  // running → queued with the error, not claimable before `available_at` (retry back-off).
  Result<std::optional<Task>> retry(const TaskRef& ref, int attempt, const std::string& error,
                                    TimePoint available_at);
  // running → queued at once, giving the attempt back (the worker is shutting down).
  Result<std::optional<Task>> release(const TaskRef& ref, int attempt);
  // Running tasks whose lease expired before `now`, across organizations.
  Result<std::vector<TaskRef>> expired_leases(TimePoint now, std::size_t limit);
  // An expired running task: back to queued after `backoff(attempts)` while attempts <
  // `max_attempts`, else failed. nullopt when it is no longer expired (renewed, finished).
  Result<std::optional<Task>> recover(const TaskRef& ref, int max_attempts,
                                      const std::function<std::chrono::milliseconds(int)>& backoff);
  // queued → failed with `error`, for a task whose queue message of `generation` was
  // dead-lettered (no message is left that would run it), audited as the system's
  // "task.dead_letter". nullopt when the task is not queued (it ran, runs, was cancelled, or is
  // gone) or has moved to another generation (a newer message will run it): nothing changes then.
  Result<std::optional<Task>> fail_dead_lettered(const TaskRef& ref, std::int64_t generation,
                                                 const std::string& error);
  // Adds an outbox message for each queued task with an id after `after_id` (up to `limit`, in
  // id order, each of the task's current generation), for a queue that lost its messages in a
  // restart. Returns the last id handled;
  // nullopt when there was none left.
  Result<std::optional<std::string>> requeue_queued(const std::optional<std::string>& after_id,
                                                    std::size_t limit);
  // Queued tasks due before `cutoff`, across organizations, longest due first, up to `limit`
  // (an index on queued tasks' due times: the sweep reads these, not every queued task).
  Result<std::vector<TaskRef>> stale_queued(TimePoint cutoff, std::size_t limit);
  // Queued tasks due before `cutoff` — so long that their queue message must be lost (a purged
  // queue, a broker that lost data) — get a new message, due now, and count as due from now: each
  // is sent again at most once per sweep threshold, whichever process sweeps (the update is
  // conditional). A duplicate message is harmless: claims are conditional. Does nothing while the
  // outbox still holds task messages due before `cutoff` (the relay is behind or the broker away:
  // new rows would only pile up behind them). Up to `limit` tasks, the longest due first (the
  // rest at the next sweep); returns how many were sent.
  Result<std::size_t> republish_stale(TimePoint cutoff, std::size_t limit);
  // Tasks in a non-terminal status, across organizations: {queued, running}.
  Result<std::pair<std::int64_t, std::int64_t>> count_active();

 private:
  // A create's arguments, and what it learnt before its transaction.
  struct Pending {
    const Principal& caller;
    const NewTask& task;
    const CreateLimits& limits;
    const CheckInput& check;
    const AlsoInTx& also;
    std::string org;
    std::string input;                   // task.input as JSON text
    std::optional<std::int64_t> queued;  // counted afresh (must_count)
    bool valid_for_all = false;          // `check` accepts the input for every executor
  };
  using CreateCommit = GroupCommit<const Pending*, Result<Created>>;
  static constexpr std::size_t kMaxCreateBatch = 64;
  static constexpr std::size_t kCreateWriters = 2;  // PostgreSQL, per lane
  static constexpr std::size_t kCreateLanes = 8;    // PostgreSQL

  // A create in a transaction of its own: with an idempotency key, or when its batch's insert
  // was refused.
  Result<Created> create_alone(const Pending& p);
  // The creates of a group commit: an organization's creates in one transaction.
  void create_together(std::span<CreateCommit::Slot* const> batch);
  // The agent exists (kNotFound) and its executor accepts the input.
  Result<void> check_agent(db::Tx& tx, const Pending& p);
  // The organization is below its queued limit (kRateLimited).
  Result<void> check_limit(const Pending& p) const;
  // The new task's rows: the task, its queue message, what `also` adds. With `commit`, the
  // task's row is the transaction's last statement and travels with its COMMIT.
  Result<Created> write_new(db::Tx& tx, const Pending& p, bool commit);

  // An organization's queued tasks as last counted, and the tasks created here since.
  struct QueuedEstimate {
    std::int64_t counted = 0;
    std::int64_t added = 0;
    TimePoint at;
  };
  // Whether create() must count the organization's queued tasks before deciding on the limit.
  bool must_count(const std::string& org, int max_queued);
  // After a create: `counted` when it counted, and whether it added a task.
  void note_created(const std::string& org, std::optional<std::int64_t> counted, bool added);

  db::Database& db_;
  const Clock& clock_;
  std::mutex estimates_mu_;
  std::unordered_map<std::string, QueuedEstimate> estimates_;  // by organization
  std::vector<std::unique_ptr<CreateCommit>> creates_;         // by lane
};

}  // namespace atrium::tasks
