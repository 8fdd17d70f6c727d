#include "tasks/store.hpp"

#include "audit/audit.hpp"
#include "broker/outbox.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::tasks {
namespace {

constexpr std::string_view kColumns =
    "id, organization_id, agent_id, status, input, output, error, attempts, idempotency_key, "
    "created_by, created_at, started_at, finished_at, queue_generation";
constexpr std::size_t kColumnCount = 14;

// queued → running for a message of the task's generation ($1 id, $2 organization, $3 now,
// $4 lease end, $5 generation), when the task is due and its organization runs fewer than $6
// tasks ($6 <= 0: no cap) and its agent exists; RETURNING follows. SQLite's claim: PostgreSQL's
// is claim_task() (migrations/postgres/0010), the same statement with the task's agent joined.
constexpr std::string_view kClaimUpdate =
    "UPDATE tasks SET status = 'running', attempts = attempts + 1, started_at = $3, "
    "lease_expires_at = $4 WHERE id = $1 AND organization_id = $2 AND status = 'queued' "
    "AND queue_generation = $5 AND available_at <= $3 AND ($6 <= 0 OR (SELECT COUNT(*) "
    "FROM tasks r WHERE r.organization_id = $2 AND r.status = 'running') < $6) "
    "AND EXISTS (SELECT 1 FROM agents a WHERE a.organization_id = $2 AND a.id = tasks.agent_id) "
    "RETURNING ";

std::string sql(std::string_view head, std::string_view tail) {
  std::string s(head);
  s += kColumns;
  s += tail;
  return s;
}

nlohmann::json parse_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    log::error("task holds JSON that does not parse");
    return nullptr;
  }
  return j;
}

Task read_task(const db::Row& row) {
  Task t;
  t.id = row.text(0);
  t.organization_id = row.text(1);
  t.agent_id = row.text(2);
  t.status = parse_status(row.text(3)).value_or(Status::kFailed);
  t.input = parse_json(row.optional_text(4));
  t.output = parse_json(row.optional_text(5));
  t.error = row.optional_text(6);
  t.attempts = static_cast<int>(row.integer(7));
  t.idempotency_key = row.optional_text(8);
  t.created_by = row.optional_text(9);
  t.created_at = row.text(10);
  t.started_at = row.optional_text(11);
  t.finished_at = row.optional_text(12);
  t.queue_generation = row.integer(13);
  return t;
}

Result<std::optional<Task>> one_task(Result<db::Rows> rows) {
  if (!rows) return fail(rows.error());
  if (rows->empty()) return std::optional<Task>();
  return std::optional<Task>(read_task(rows->front()));
}

db::TxOptions for_tenant(const std::string& org) { return {.tenant = org, .read_only = false}; }

// A read across organizations (recovery, metrics): never on behalf of a caller, logged by the
// driver. On PostgreSQL the application's role sees no other tenant's row by itself: each such
// read is a SECURITY DEFINER function returning only what the sweep needs
// (migrations/postgres/0005_cross_tenant_functions.sql), running the query SQLite runs here.
db::TxOptions across_tenants(std::string purpose) {
  return {.read_only = true, .cross_tenant_read = std::move(purpose)};
}

bool on_postgres(const db::Tx& tx) { return tx.dialect() == "postgresql"; }

// Writes the task's queue message of `generation`: the caller moved the task to that generation
// in the same transaction (or, requeueing after a restart, found it there).
Result<void> enqueue(db::Tx& tx, const TaskRef& ref, std::int64_t generation, TimePoint now,
                     TimePoint available_at) {
  auto id =
      broker::add_to_outbox(tx, kTaskTopic, ref.organization_id,
                            queue_body(ref.id, ref.organization_id, generation), now, available_at);
  if (!id) return fail(id.error());
  return {};
}

Error task_not_found() { return Error::not_found("task not found"); }

// A PostgreSQL array literal ('{"a","b",NULL}'), passed as one text parameter (the function
// called takes it as its array type): a batch is one statement with a fixed number of parameters.
class PgArray {
 public:
  void add(std::string_view element) {
    text_ += text_.size() == 1 ? "\"" : ",\"";
    for (char c : element) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  void add_or_null(const std::optional<std::string>& element) {
    if (element) {
      add(std::string_view(*element));
    } else {
      text_ += text_.size() == 1 ? "NULL" : ",NULL";
    }
  }
  std::string text() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

// The executor of the organization's agent, or kNotFound. Only the one column: a create reads
// it for every task (agents::store::find would read and parse the whole agent, config included).
Result<std::string> executor_of(db::Tx& tx, const std::string& org, const std::string& agent_id) {
  auto row = tx.query_one("SELECT executor FROM agents WHERE organization_id = $1 AND id = $2",
                          {org, agent_id});
  if (!row) return fail(row.error());
  if (!*row) return fail(Error::not_found("agent not found"));
  return std::string((**row).view(0));
}

}  // namespace

Result<std::string> TaskStore::agent_executor(const Principal& caller,
                                              const std::string& agent_id) {
  if (!caller.org_id || !is_uuid(agent_id)) return fail(Error::not_found("agent not found"));
  const std::string org = *caller.org_id;
  return db_.transact({.tenant = org, .read_only = true},
                      [&](db::Tx& tx) { return executor_of(tx, org, agent_id); });
}

TaskStore::TaskStore(db::Database& db, const Clock& clock) : db_(db), clock_(clock) {
  const bool postgres = db.dialect() == "postgresql";
  for (std::size_t lane = 0; lane < (postgres ? kCreateLanes : 1); ++lane)
    creates_.push_back(
        std::make_unique<CreateCommit>(kMaxCreateBatch, postgres ? kCreateWriters : 1));
}

std::size_t TaskStore::create_lane(const std::string& org) const {
  return std::hash<std::string>{}(org) % creates_.size();
}

Result<Created> TaskStore::create(const Principal& caller, const NewTask& task,
                                  const CreateLimits& limits, const CheckInput& check,
                                  const AlsoInTx& also) {
  if (!caller.org_id || !is_uuid(task.agent_id)) return fail(Error::not_found("agent not found"));
  Pending p{caller, task, limits, check, also, *caller.org_id, task.input.dump()};

  // Counted in a read transaction of its own: under SQLite a long count inside the write
  // transaction would hold back every other writer.
  if (must_count(p.org, limits.max_queued)) {
    auto n = db_.transact({.tenant = p.org, .read_only = true}, [&](db::Tx& tx) {
      return tx.query_one(
          "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE organization_id = $1 AND "
          "status = 'queued' LIMIT $2) AS queued",
          {p.org, static_cast<std::int64_t>(limits.max_queued)});
    });
    if (!n) return fail(n.error());
    p.queued = *n ? (**n).integer(0) : 0;
  }

  // An input that every executor accepts needs no executor's check: on PostgreSQL the agent is
  // then not read first (store.hpp).
  p.valid_for_all = !check || check(std::nullopt, task.input).has_value();

  auto created =
      task.idempotency_key
          ? create_alone(p)
          : creates_[create_lane(p.org)]->submit(
                &p, fail(Error::internal()),
                [this](std::span<CreateCommit::Slot* const> batch) { create_together(batch); });
  if (created || created.error().code == Code::kRateLimited)
    note_created(p.org, p.queued, created && !created->replayed);
  return created;
}

Result<Created> TaskStore::create_alone(const Pending& p) {
  auto attempt = [&](bool must_read_agent) -> Result<Created> {
    return db_.transact(for_tenant(p.org), [&](db::Tx& tx) -> Result<Created> {
      // SQLite's foreign key would accept another organization's agent: read it there.
      const bool read_agent = must_read_agent || !on_postgres(tx);
      if (read_agent) {
        if (auto ok = check_agent(tx, p); !ok) return fail(ok.error());
      }
      if (p.task.idempotency_key) {
        auto existing = one_task(tx.query(
            sql("SELECT ", " FROM tasks WHERE organization_id = $1 AND idempotency_key = $2"),
            {p.org, *p.task.idempotency_key}));
        if (!existing) return fail(existing.error());
        if (*existing) {
          if ((*existing)->agent_id != p.task.agent_id || (*existing)->input != p.task.input) {
            // A missing agent is answered first, as when it is read first.
            if (!read_agent) {
              if (auto ok = check_agent(tx, p); !ok) return fail(ok.error());
            }
            return fail(
                Error::conflict("the idempotency key was already used for another request"));
          }
          return Created{std::move(**existing), true};
        }
      }
      if (auto ok = check_limit(p); !ok) return fail(ok.error());
      return write_new(tx, p, true);
    });
  };

  auto created = attempt(!p.valid_for_all);
  // Refused by the insert (kConflict): a concurrent request with the same key committed first (a
  // unique violation), answered with its task as a replay; or, on PostgreSQL, the agent is
  // missing or of another organization (the insert's own check, migrations/postgres/0009), also
  // when it was deleted after this create had read it (the check waited for that deletion),
  // answered as not found by reading it.
  if (!created && created.error().code == Code::kConflict) created = attempt(true);
  return created;
}

void TaskStore::create_together(std::span<CreateCommit::Slot* const> batch) {
  // By organization, each in the order its creates came: the transaction's scope is one tenant.
  std::vector<std::vector<CreateCommit::Slot*>> groups;
  for (CreateCommit::Slot* slot : batch) {
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.front()->in->org == slot->in->org; });
    if (same == groups.end()) {
      groups.push_back({slot});
    } else {
      same->push_back(slot);
    }
  }
  for (const auto& group : groups) {
    // What the body found, answered only once the transaction has ended: a create is never
    // told it was made by a transaction that then rolled back.
    std::vector<std::pair<CreateCommit::Slot*, Error>> refused;  // by their checks
    std::vector<CreateCommit::Slot*> checked;                    // to be written
    std::vector<Created> created;                                // checked's, in order
    auto written =
        db_.transact(for_tenant(group.front()->in->org), [&](db::Tx& tx) -> Result<void> {
          refused.clear();  // the body may run again (a busy database)
          checked.clear();
          created.clear();
          for (CreateCommit::Slot* slot : group) {
            const Pending& p = *slot->in;
            auto ok = !p.valid_for_all || !on_postgres(tx) ? check_agent(tx, p) : Result<void>();
            if (ok) ok = check_limit(p);
            if (ok) {
              checked.push_back(slot);
            } else {
              refused.emplace_back(slot, ok.error());
            }
          }
          for (std::size_t i = 0; i < checked.size(); ++i) {
            auto c = write_new(tx, *checked[i]->in, i + 1 == checked.size());
            if (!c) return fail(c.error());
            created.push_back(std::move(*c));
          }
          return {};
        });
    for (auto& [slot, error] : refused) slot->out = fail(std::move(error));
    for (std::size_t i = 0; i < checked.size(); ++i) {
      CreateCommit::Slot* slot = checked[i];
      if (written) {
        slot->out = std::move(created[i]);
      } else if (written.error().code == Code::kConflict) {
        // An insert was refused (on PostgreSQL a missing agent: the checks did not read it
        // there), which rolled the batch back: each create alone, as it would have run.
        slot->out = create_alone(*slot->in);
      } else {
        // Any other failure is every create's, as it would have been had it run alone.
        slot->out = fail(written.error());
      }
    }
  }
}

Result<void> TaskStore::check_agent(db::Tx& tx, const Pending& p) {
  auto executor = executor_of(tx, p.org, p.task.agent_id);
  if (!executor) return fail(executor.error());
  if (p.check) {
    if (auto valid = p.check(std::string_view(*executor), p.task.input); !valid)
      return fail(valid.error());
  }
  return {};
}

Result<void> TaskStore::check_limit(const Pending& p) const {
  if (p.queued && *p.queued >= p.limits.max_queued) {
    return fail(Error{Code::kRateLimited,
                      "the organization has " + std::to_string(p.limits.max_queued) +
                          " queued tasks, the most it may have; retry later",
                      {},
                      p.limits.retry_after_seconds});
  }
  return {};
}

Result<Created> TaskStore::write_new(db::Tx& tx, const Pending& p, bool commit) {
  const TimePoint now = clock_.now();
  Task t;
  t.id = p.task.id.empty() ? new_id() : p.task.id;
  t.organization_id = p.org;
  t.agent_id = p.task.agent_id;
  t.status = Status::kQueued;
  t.input = p.task.input;
  t.idempotency_key = p.task.idempotency_key;
  if (!p.caller.user_id.empty()) t.created_by = p.caller.user_id;
  t.created_at = format_time(now);
  if (auto q = enqueue(tx, {t.id, p.org}, t.queue_generation, now, now); !q) return fail(q.error());
  if (p.also) {
    if (auto a = p.also(tx, t); !a) return fail(a.error());
  }
  // The outbox row and the audit entry were deferred: on PostgreSQL they go with the task's
  // row — and with the COMMIT, BEGIN and the scope when nothing was read first — in one round
  // trip. A duplicate idempotency key or a missing agent fails it (kConflict). On PostgreSQL
  // the INSERT is insert_task()'s (migrations/postgres/0011), planned once per server
  // connection.
  const std::string_view insert =
      on_postgres(tx) ? "CALL insert_task($1, $2, $3, $4, $5, $6, $7)"
                      : "INSERT INTO tasks (id, organization_id, agent_id, status, input, "
                        "attempts, idempotency_key, created_by, created_at, available_at) "
                        "VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, $7, $7)";
  const db::Value params[] = {t.id,         p.org,       t.agent_id, p.input, t.idempotency_key,
                              t.created_by, t.created_at};
  if (commit) {
    if (auto r = tx.query_and_commit(insert, db::Params(params)); !r) return fail(r.error());
  } else {
    if (auto r = tx.execute_deferred(insert, db::Params(params)); !r) return fail(r.error());
  }
  return Created{std::move(t), false};
}

bool TaskStore::must_count(const std::string& org, int max_queued) {
  std::lock_guard lock(estimates_mu_);
  auto it = estimates_.find(org);
  if (it == estimates_.end()) return true;
  QueuedEstimate& e = it->second;
  if (e.counted + e.added >= max_queued) return true;
  const TimePoint now = clock_.now();
  if (now - e.at < kQueuedRecount) return false;
  // Only an estimate that has aged needs a count, and one count renews it: the other creators
  // meanwhile go on with the estimate, which stays below the limit, instead of all counting the
  // same backlog at once (each count reads every queued task of the organization). A count that
  // fails leaves the estimate as it was, to be renewed a kQueuedRecount later.
  e.at = now;
  return true;
}

void TaskStore::note_created(const std::string& org, std::optional<std::int64_t> counted,
                             bool added) {
  // A cache, not a record: forgetting every organization at once is cheap and keeps it bounded.
  constexpr std::size_t kMaxOrganizations = 10000;
  std::lock_guard lock(estimates_mu_);
  if (counted) {
    if (estimates_.size() >= kMaxOrganizations) estimates_.clear();
    estimates_[org] = {*counted, added ? 1 : 0, clock_.now()};
  } else if (auto it = estimates_.find(org); it != estimates_.end() && added) {
    ++it->second.added;
  }
}

Result<Task> TaskStore::get(const Principal& caller, const std::string& id) {
  if (!caller.org_id || !is_uuid(id)) return fail(task_not_found());
  const std::string org = *caller.org_id;
  auto t = db_.transact({.tenant = org, .read_only = true}, [&](db::Tx& tx) {
    return one_task(
        tx.query(sql("SELECT ", " FROM tasks WHERE id = $1 AND organization_id = $2"), {id, org}));
  });
  if (!t) return fail(t.error());
  if (!*t) return fail(task_not_found());
  return std::move(**t);
}

Result<std::vector<Task>> TaskStore::list(const Principal& caller, const ListQuery& query) {
  if (!caller.org_id) return std::vector<Task>();
  if (query.agent_id && !is_uuid(*query.agent_id)) return std::vector<Task>();
  const std::string org = *caller.org_id;
  std::string text = sql("SELECT ", " FROM tasks WHERE organization_id = $1");
  std::vector<db::Value> params{org};
  auto param = [&](db::Value v) {
    params.push_back(std::move(v));
    return "$" + std::to_string(params.size());
  };
  if (query.agent_id) text += " AND agent_id = " + param(*query.agent_id);
  if (query.status) text += " AND status = " + param(status_name(*query.status));
  if (query.before_id) text += " AND id < " + param(*query.before_id);
  text += " ORDER BY id DESC LIMIT " + param(static_cast<std::int64_t>(query.limit));

  return db_.transact({.tenant = org, .read_only = true},
                      [&](db::Tx& tx) -> Result<std::vector<Task>> {
                        auto rows = tx.query(text, db::Params(params));
                        if (!rows) return fail(rows.error());
                        std::vector<Task> out;
                        out.reserve(rows->size());
                        for (const auto& row : *rows) out.push_back(read_task(row));
                        return out;
                      });
}

Result<Task> TaskStore::cancel(const Principal& caller, const std::string& id,
                               const AlsoInTx& also) {
  if (!caller.org_id || !is_uuid(id)) return fail(task_not_found());
  const std::string org = *caller.org_id;
  return db_.transact(for_tenant(org), [&](db::Tx& tx) -> Result<Task> {
    // A worker may move the task between the read and the update: read again and decide anew.
    for (int round = 0; round < 3; ++round) {
      auto current = one_task(tx.query(
          sql("SELECT ", " FROM tasks WHERE id = $1 AND organization_id = $2"), {id, org}));
      if (!current) return fail(current.error());
      if (!*current) return fail(task_not_found());
      const Status status = (*current)->status;
      if (is_terminal(status)) {
        return fail(Error::conflict("the task is already " + std::string(status_name(status))));
      }
      auto updated = one_task(tx.query(
          sql("UPDATE tasks SET status = 'cancelled', finished_at = $3, lease_expires_at = NULL "
              "WHERE id = $1 AND organization_id = $2 AND status = $4 RETURNING ",
              ""),
          {id, org, format_time(clock_.now()), status_name(status)}));
      if (!updated) return fail(updated.error());
      if (!*updated) continue;
      if (also) {
        if (auto a = also(tx, **updated); !a) return fail(a.error());
      }
      return std::move(**updated);
    }
    return fail(Error::unavailable("the task is changing; retry"));
  });
}

Result<std::variant<Claimed, ClaimRefusal>> TaskStore::claim(const TaskRef& ref,
                                                             std::int64_t generation,
                                                             TimePoint lease_until, int max_running,
                                                             std::chrono::milliseconds busy_delay) {
  using Outcome = std::variant<Claimed, ClaimRefusal>;
  const TimePoint now = clock_.now();
  const std::string now_text = format_time(now);
  const std::string lock_key = "tasks.claim:" + ref.organization_id;
  Principal worker;
  worker.org_id = ref.organization_id;

  // The common case, a current message of a due task whose organization is under its cap, in
  // one statement that also reads the task's agent. Two workers claiming for one organization at
  // once must not both see room under the cap: the organization's lock comes first. On
  // PostgreSQL both are claim_task() (migrations/postgres/0010), whose plans the server
  // connection keeps; the call and its COMMIT travel in one round trip, so the lock is held only
  // while the server runs them, and the claim's snapshot follows the lock.
  auto taken = db_.transact(
      for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<std::optional<Claimed>> {
        if (on_postgres(tx)) {
          auto rows = tx.query_and_commit(
              "SELECT * FROM claim_task($1, $2, $3, $4, $5, $6, $7)",
              {ref.id, ref.organization_id, now_text, format_time(lease_until), generation,
               max_running, max_running > 0 ? db::Value(lock_key) : db::Value(nullptr)});
          if (!rows) return fail(rows.error());
          if (rows->empty()) return std::optional<Claimed>();
          const db::Row& row = rows->front();
          return Claimed{read_task(row), agents::store::read_columns(row, kColumnCount)};
        }
        if (max_running > 0) {
          if (auto l = tx.lock(lock_key); !l) return fail(l.error());
        }
        static const std::string claim = std::string(kClaimUpdate) + std::string(kColumns);
        auto task = one_task(tx.query(claim, {ref.id, ref.organization_id, now_text,
                                              format_time(lease_until), generation, max_running}));
        if (!task) return fail(task.error());
        if (!*task) return std::optional<Claimed>();
        auto agent = agents::store::find_of_task(tx, worker, ref.id);
        if (!agent) return fail(agent.error());
        if (!*agent) return fail(Error::internal());  // the claim saw it in this transaction
        return Claimed{std::move(**task), std::move(**agent)};
      });
  if (!taken) return fail(taken.error());
  if (*taken) return Outcome(std::move(**taken));

  // Anything else: sorted out in a transaction of its own.
  return db_.transact(for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<Outcome> {
    auto agent = agents::store::find_of_task(tx, worker, ref.id);
    if (!agent) return fail(agent.error());
    if (!*agent) return Outcome(ClaimRefusal::kNotClaimable);
    auto claimed = [&](Task task) -> Result<Outcome> {
      return Outcome(Claimed{std::move(task), std::move(**agent)});
    };
    if (max_running > 0) {
      if (auto l = tx.lock(lock_key); !l) return fail(l.error());
    }

    auto state = tx.query_one(
        "SELECT status, available_at, queue_generation FROM tasks WHERE id = $1 AND "
        "organization_id = $2",
        {ref.id, ref.organization_id});
    if (!state) return fail(state.error());
    if (!*state || (*state)->text(0) != "queued") return Outcome(ClaimRefusal::kNotClaimable);
    if ((*state)->integer(2) != generation) return Outcome(ClaimRefusal::kStale);

    // Moves the task to the next generation with its message due at `due` (and, when `seen`, due
    // itself as of now), unless another claim moved it first: that one wrote the message, and
    // this delivery is stale.
    auto defer = [&](TimePoint due, bool seen) -> Result<Outcome> {
      auto moved =
          seen ? tx.query_one(
                     "UPDATE tasks SET available_at = $4, queue_generation = queue_generation + 1 "
                     "WHERE id = $1 AND organization_id = $2 AND status = 'queued' "
                     "AND queue_generation = $3 RETURNING queue_generation",
                     {ref.id, ref.organization_id, generation, now_text})
               : tx.query_one(
                     "UPDATE tasks SET queue_generation = queue_generation + 1 "
                     "WHERE id = $1 AND organization_id = $2 AND status = 'queued' "
                     "AND queue_generation = $3 RETURNING queue_generation",
                     {ref.id, ref.organization_id, generation});
      if (!moved) return fail(moved.error());
      if (!*moved) return Outcome(ClaimRefusal::kStale);
      if (auto q = enqueue(tx, ref, (*moved)->integer(0), now, due); !q) return fail(q.error());
      return Outcome(ClaimRefusal::kDeferred);
    };

    // Not due yet: this message came early (clocks that disagree); make sure a message comes
    // when it is due rather than trusting that one is on its way.
    const auto due = parse_time((*state)->text(1));
    if (due && *due > now) return defer(*due, /*seen=*/false);
    if (max_running > 0) {
      auto running = tx.query_one(
          "SELECT COUNT(*) FROM tasks WHERE organization_id = $1 AND status = 'running'",
          {ref.organization_id});
      if (!running) return fail(running.error());
      // Still due, as of now: a task waiting its turn is not taken for one whose message was
      // lost (republish_stale).
      if ((*running)->integer(0) >= max_running) return defer(now + busy_delay, /*seen=*/true);
    }

    // Due and under the cap after all (a due time the first claim did not compare as this does,
    // e.g. one written before times were uniform; or room made since).
    auto updated = one_task(tx.query(
        sql("UPDATE tasks SET status = 'running', attempts = attempts + 1, started_at = $3, "
            "lease_expires_at = $4 WHERE id = $1 AND organization_id = $2 AND status = 'queued' "
            "AND queue_generation = $5 RETURNING ",
            ""),
        {ref.id, ref.organization_id, now_text, format_time(lease_until), generation}));
    if (!updated) return fail(updated.error());
    if (!*updated) return Outcome(ClaimRefusal::kNotClaimable);
    return claimed(std::move(**updated));
  });
}

Result<bool> TaskStore::heartbeat(const TaskRef& ref, int attempt, TimePoint lease_until) {
  auto n = db_.transact(for_tenant(ref.organization_id), [&](db::Tx& tx) {
    return tx.execute(
        "UPDATE tasks SET lease_expires_at = $3 WHERE id = $1 AND organization_id = $2 "
        "AND status = 'running' AND attempts = $4",
        {ref.id, ref.organization_id, format_time(lease_until), attempt});
  });
  if (!n) return fail(n.error());
  return *n == 1;
}

Result<std::optional<Task>> TaskStore::finish(const TaskRef& ref, int attempt, Status status,
                                              const nlohmann::json& output,
                                              const std::optional<std::string>& error) {
  std::optional<std::string> output_text;
  if (status == Status::kSucceeded) output_text = output.dump();
  // One statement: on PostgreSQL, BEGIN, the statement and COMMIT are one round trip, and the
  // statement is finish_task() (migrations/postgres/0010), whose plan the server connection keeps.
  return db_.transact(for_tenant(ref.organization_id), [&](db::Tx& tx) {
    if (on_postgres(tx)) {
      return one_task(
          tx.query_and_commit("SELECT * FROM finish_task($1, $2, $3, $4, $5, $6, $7)",
                              {ref.id, ref.organization_id, attempt, status_name(status),
                               output_text, error, format_time(clock_.now())}));
    }
    return one_task(tx.query_and_commit(
        sql("UPDATE tasks SET status = $3, output = $4, error = $5, finished_at = $6, "
            "lease_expires_at = NULL WHERE id = $1 AND organization_id = $2 AND status = 'running' "
            "AND attempts = $7 RETURNING ",
            ""),
        {ref.id, ref.organization_id, status_name(status), output_text, error,
         format_time(clock_.now()), attempt}));
  });
}

Result<std::vector<std::optional<Task>>> TaskStore::finish_all(std::span<const Finish> finishes) {
  using Results = std::vector<std::optional<Task>>;
  if (finishes.empty()) return Results();
  if (finishes.size() == 1) {
    const Finish& f = finishes.front();
    auto one = finish(f.ref, f.attempt, f.status, f.output, f.error);
    if (!one) return fail(one.error());
    return Results{std::move(*one)};
  }
  const std::string& org = finishes.front().ref.organization_id;
  for (const Finish& f : finishes) {
    if (f.ref.organization_id != org) return fail(Error::internal());
  }
  const std::string now_text = format_time(clock_.now());
  auto output_of = [](const Finish& f) {
    return f.status == Status::kSucceeded ? std::optional<std::string>(f.output.dump())
                                          : std::nullopt;
  };
  return db_.transact(for_tenant(org), [&](db::Tx& tx) -> Result<Results> {
    Results out(finishes.size());
    if (!on_postgres(tx)) {
      for (std::size_t i = 0; i < finishes.size(); ++i) {
        const Finish& f = finishes[i];
        auto t = one_task(tx.query(
            sql("UPDATE tasks SET status = $3, output = $4, error = $5, finished_at = $6, "
                "lease_expires_at = NULL WHERE id = $1 AND organization_id = $2 "
                "AND status = 'running' AND attempts = $7 RETURNING ",
                ""),
            {f.ref.id, org, status_name(f.status), output_of(f), f.error, now_text, f.attempt}));
        if (!t) return fail(t.error());
        out[i] = std::move(*t);
      }
      return out;
    }
    // One statement whatever the batch's size, finish_tasks() (migrations/postgres/0010): the
    // claims' fields travel as arrays, one element per claim (a task is running under one claim,
    // so its id appears once).
    PgArray ids, attempts, statuses, outputs, errors;
    for (const Finish& f : finishes) {
      ids.add(f.ref.id);
      attempts.add(std::to_string(f.attempt));
      statuses.add(status_name(f.status));
      outputs.add_or_null(output_of(f));
      errors.add_or_null(f.error);
    }
    auto rows = tx.query_and_commit("SELECT * FROM finish_tasks($1, $2, $3, $4, $5, $6, $7)",
                                    {org, now_text, ids.text(), attempts.text(), statuses.text(),
                                     outputs.text(), errors.text()});
    if (!rows) return fail(rows.error());
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < finishes.size(); ++i) index.emplace(finishes[i].ref.id, i);
    for (const auto& row : *rows) {
      Task t = read_task(row);
      if (auto it = index.find(t.id); it != index.end()) out[it->second] = std::move(t);
    }
    return out;
  });
}

Result<std::optional<Task>> TaskStore::retry(const TaskRef& ref, int attempt,
                                             const std::string& error, TimePoint available_at) {
  return db_.transact(
      for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<std::optional<Task>> {
        auto t = one_task(
            tx.query(sql("UPDATE tasks SET status = 'queued', error = $3, available_at = $4, "
                         "lease_expires_at = NULL, queue_generation = queue_generation + 1 "
                         "WHERE id = $1 AND organization_id = $2 AND status = 'running' "
                         "AND attempts = $5 RETURNING ",
                         ""),
                     {ref.id, ref.organization_id, error, format_time(available_at), attempt}));
        if (!t || !*t) return t;
        if (auto q = enqueue(tx, ref, (*t)->queue_generation, clock_.now(), available_at); !q)
          return fail(q.error());
        return t;
      });
}

Result<std::optional<Task>> TaskStore::release(const TaskRef& ref, int attempt) {
  return db_.transact(
      for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<std::optional<Task>> {
        const TimePoint now = clock_.now();
        auto t = one_task(tx.query(
            sql("UPDATE tasks SET status = 'queued', attempts = attempts - 1, available_at = $3, "
                "lease_expires_at = NULL, queue_generation = queue_generation + 1 "
                "WHERE id = $1 AND organization_id = $2 AND status = 'running' "
                "AND attempts = $4 RETURNING ",
                ""),
            {ref.id, ref.organization_id, format_time(now), attempt}));
        if (!t || !*t) return t;
        if (auto q = enqueue(tx, ref, (*t)->queue_generation, now, now); !q) return fail(q.error());
        return t;
      });
}

Result<std::optional<Task>> TaskStore::fail_dead_lettered(const TaskRef& ref,
                                                          std::int64_t generation,
                                                          const std::string& error) {
  return db_.transact(
      for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<std::optional<Task>> {
        auto t = one_task(
            tx.query(sql("UPDATE tasks SET status = 'failed', error = $3, finished_at = $4, "
                         "lease_expires_at = NULL WHERE id = $1 AND organization_id = $2 AND "
                         "status = 'queued' AND queue_generation = $5 RETURNING ",
                         ""),
                     {ref.id, ref.organization_id, error, format_time(clock_.now()), generation}));
        if (!t || !*t) return t;
        auto entry = audit::Entry::by("system", std::nullopt, "task.dead_letter")
                         .in(ref.organization_id)
                         .on("task", ref.id)
                         .with({{"error", error}});
        if (auto a = audit::record(tx, entry); !a) return fail(a.error());
        return t;
      });
}

Result<std::vector<TaskRef>> TaskStore::expired_leases(TimePoint now, std::size_t limit) {
  return db_.transact(
      across_tenants("tasks: expired leases"), [&](db::Tx& tx) -> Result<std::vector<TaskRef>> {
        auto rows = tx.query(
            on_postgres(tx) ? "SELECT id, organization_id FROM tasks_with_expired_leases($1, $2)"
                            : "SELECT id, organization_id FROM tasks WHERE status = 'running' "
                              "AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2",
            {format_time(now), static_cast<std::int64_t>(limit)});
        if (!rows) return fail(rows.error());
        std::vector<TaskRef> out;
        for (const auto& row : *rows) out.push_back({row.text(0), row.text(1)});
        return out;
      });
}

Result<std::optional<Task>> TaskStore::recover(
    const TaskRef& ref, int max_attempts,
    const std::function<std::chrono::milliseconds(int)>& backoff) {
  return db_.transact(
      for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<std::optional<Task>> {
        const TimePoint now = clock_.now();
        const std::string now_text = format_time(now);
        auto row = tx.query_one(
            "SELECT attempts FROM tasks WHERE id = $1 AND organization_id = $2 AND status = "
            "'running' "
            "AND lease_expires_at < $3",
            {ref.id, ref.organization_id, now_text});
        if (!row) return fail(row.error());
        if (!*row) return std::optional<Task>();
        const auto attempts = (*row)->integer(0);
        const std::string error =
            "the worker running the task stopped answering (its lease expired)";
        if (attempts >= max_attempts) {
          return one_task(tx.query(
              sql("UPDATE tasks SET status = 'failed', error = $3, finished_at = $4, "
                  "lease_expires_at = NULL WHERE id = $1 AND organization_id = $2 "
                  "AND status = 'running' AND attempts = $5 RETURNING ",
                  ""),
              {ref.id, ref.organization_id,
               error + " after " + std::to_string(attempts) + " attempts", now_text, attempts}));
        }
        const TimePoint due = now + backoff(static_cast<int>(attempts));
        auto t = one_task(
            tx.query(sql("UPDATE tasks SET status = 'queued', error = $3, available_at = $4, "
                         "lease_expires_at = NULL, queue_generation = queue_generation + 1 "
                         "WHERE id = $1 AND organization_id = $2 "
                         "AND status = 'running' AND attempts = $5 RETURNING ",
                         ""),
                     {ref.id, ref.organization_id, error, format_time(due), attempts}));
        if (!t || !*t) return t;
        if (auto q = enqueue(tx, ref, (*t)->queue_generation, now, due); !q) return fail(q.error());
        return t;
      });
}

Result<std::optional<std::string>> TaskStore::requeue_queued(
    const std::optional<std::string>& after_id, std::size_t limit) {
  auto rows = db_.transact(across_tenants("tasks: requeue at start"), [&](db::Tx& tx) {
    return tx.query(
        on_postgres(tx)
            ? "SELECT id, organization_id, available_at, queue_generation FROM queued_tasks($1, $2)"
            : "SELECT id, organization_id, available_at, queue_generation FROM tasks WHERE "
              "status = 'queued' AND ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        {after_id ? db::Value(*after_id) : db::Value(nullptr), static_cast<std::int64_t>(limit)});
  });
  if (!rows) return fail(rows.error());
  if (rows->empty()) return std::optional<std::string>();
  auto written = db_.transact({}, [&](db::Tx& tx) -> Result<void> {
    const TimePoint now = clock_.now();
    for (const auto& row : *rows) {
      const TimePoint due = parse_time(row.text(2)).value_or(now);
      if (auto q = enqueue(tx, {row.text(0), row.text(1)}, row.integer(3), now, due); !q) return q;
    }
    return {};
  });
  if (!written) return fail(written.error());
  return std::optional<std::string>(rows->back().text(0));
}

Result<std::vector<TaskRef>> TaskStore::stale_queued(TimePoint cutoff, std::size_t limit) {
  return db_.transact(
      across_tenants("tasks: stale queued"), [&](db::Tx& tx) -> Result<std::vector<TaskRef>> {
        auto rows = tx.query(on_postgres(tx)
                                 ? "SELECT id, organization_id FROM stale_queued_tasks($1, $2)"
                                 : "SELECT id, organization_id FROM tasks WHERE status = 'queued' "
                                   "AND available_at < $1 ORDER BY available_at LIMIT $2",
                             {format_time(cutoff), static_cast<std::int64_t>(limit)});
        if (!rows) return fail(rows.error());
        std::vector<TaskRef> out;
        out.reserve(rows->size());
        for (const auto& row : *rows) out.push_back({row.text(0), row.text(1)});
        return out;
      });
}

Result<std::size_t> TaskStore::republish_stale(TimePoint cutoff, std::size_t limit) {
  const std::string cutoff_text = format_time(cutoff);
  auto behind = db_.transact({.read_only = true}, [&](db::Tx& tx) {
    return tx.query_one(
        "SELECT 1 FROM outbox WHERE published_at IS NULL AND topic = $1 AND available_at < $2 "
        "LIMIT 1",
        {std::string(kTaskTopic), cutoff_text});
  });
  if (!behind) return fail(behind.error());
  if (*behind) return std::size_t{0};

  auto stale = stale_queued(cutoff, limit);
  if (!stale) return fail(stale.error());
  std::size_t sent = 0;
  for (const TaskRef& ref : *stale) {
    // Conditional, so that of several workers sweeping at once one sends it.
    auto republished =
        db_.transact(for_tenant(ref.organization_id), [&](db::Tx& tx) -> Result<bool> {
          const TimePoint now = clock_.now();
          auto moved = tx.query_one(
              "UPDATE tasks SET available_at = $3, queue_generation = queue_generation + 1 "
              "WHERE id = $1 AND organization_id = $2 AND status = 'queued' AND available_at < $4 "
              "RETURNING queue_generation",
              {ref.id, ref.organization_id, format_time(now), cutoff_text});
          if (!moved) return fail(moved.error());
          if (!*moved) return false;
          if (auto q = enqueue(tx, ref, (*moved)->integer(0), now, now); !q) return fail(q.error());
          return true;
        });
    if (!republished) return fail(republished.error());
    if (*republished) {
      log::warn("queued task sent to the queue again: its message was lost",
                {{"task_id", ref.id}, {"tenant", ref.organization_id}});
      ++sent;
    }
  }
  return sent;
}

Result<std::pair<std::int64_t, std::int64_t>> TaskStore::count_active() {
  return db_.transact(across_tenants("tasks: metrics"),
                      [&](db::Tx& tx) -> Result<std::pair<std::int64_t, std::int64_t>> {
                        auto rows =
                            tx.query(on_postgres(tx) ? "SELECT status, n FROM active_task_counts()"
                                                     : "SELECT status, COUNT(*) FROM tasks "
                                                       "WHERE status IN ('queued', 'running') "
                                                       "GROUP BY status");
                        if (!rows) return fail(rows.error());
                        std::pair<std::int64_t, std::int64_t> out{0, 0};
                        for (const auto& row : *rows) {
                          if (row.text(0) == "queued") out.first = row.integer(1);
                          if (row.text(0) == "running") out.second = row.integer(1);
                        }
                        return out;
                      });
}

}  // namespace atrium::tasks
