#include "broker/outbox.hpp"

#include <algorithm>
#include <vector>

#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::broker {

Result<std::string> add_to_outbox(db::Tx& tx, std::string_view topic, std::string_view key,
                                  std::string_view body, TimePoint now, TimePoint available_at) {
  std::string id = new_id();
  // On PostgreSQL the same INSERT inside insert_outbox_row() (migrations/postgres/0011), whose
  // plan the server connection keeps: sent as SQL it was parsed and planned in every transaction.
  const bool postgres = tx.dialect() == "postgresql";
  auto r = tx.execute_deferred(
      postgres ? "CALL insert_outbox_row($1, $2, $3, $4, $5, $6)"
               : "INSERT INTO outbox (id, topic, tenant, payload, created_at, available_at) "
                 "VALUES ($1, $2, $3, $4, $5, $6)",
      {id, topic, key, body, format_time(now), format_time(available_at)});
  if (!r) return fail(r.error());
  return id;
}

OutboxRelay::OutboxRelay(db::Database& db, TaskQueue& queue, const Clock& clock,
                         OutboxRelayOptions options)
    : db_(db), queue_(queue), clock_(clock), options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  notified_ = true;  // first pass at once: rows left by a previous run
  thread_ = std::thread([this] { run(); });
}

void OutboxRelay::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

Result<std::size_t> OutboxRelay::relay_due() {
  const std::size_t batch_size = std::clamp<std::size_t>(options_.batch, 1, 10000);
  static constexpr std::string_view kSelect =
      "SELECT id, tenant, payload FROM outbox "
      "WHERE published_at IS NULL AND topic = $1 AND available_at <= $2 "
      "ORDER BY available_at, id LIMIT $3";
  std::size_t total = 0;
  // The rows of the batch the queue confirmed last, still to delete.
  std::vector<std::string> published;
  for (;;) {
    const std::string now = format_time(clock_.now());
    const db::Value select_params[] = {options_.topic, now, static_cast<std::int64_t>(batch_size)};
    Result<db::Rows> rows;
    if (published.empty()) {
      rows = db_.transact({.tenant = std::nullopt, .read_only = true},
                          [&](db::Tx& tx) { return tx.query(kSelect, db::Params(select_params)); });
    } else {
      // The queue has the last batch: its rows are deleted, in one statement, and the next batch
      // is read after it in the same transaction — on PostgreSQL one round trip (BEGIN, scope,
      // DELETE, SELECT, COMMIT), where a DELETE transaction of its own took two and the next
      // SELECT a third. Deleted rather than marked sent and swept later: nothing reads a sent
      // row, and on PostgreSQL marking one wrote a new row version with two index entries, and
      // the sweep then a second change, both for VACUUM to clean.
      std::string text = "DELETE FROM outbox WHERE id IN (";
      std::vector<db::Value> params;
      params.reserve(published.size());
      for (const auto& id : published) {
        if (!params.empty()) text += ", ";
        params.emplace_back(id);
        text += "$" + std::to_string(params.size());
      }
      text += ")";
      auto round_trip = [&] {
        return db_.transact({}, [&](db::Tx& tx) -> Result<db::Rows> {
          if (auto d = tx.execute_deferred(text, db::Params(params)); !d) return fail(d.error());
          return tx.query_and_commit(kSelect, db::Params(select_params));
        });
      };
      rows = round_trip();
      // A round trip with its COMMIT is not re-run by the database when its connection turns out
      // dead (a pooled one, after a restart); the DELETE is harmless to repeat, and a second try
      // on a fresh connection spares the queue the whole batch again.
      if (!rows && rows.error().code == Code::kUnavailable) rows = round_trip();
      if (!rows) return fail(rows.error());
      total += published.size();
      sent_.fetch_add(published.size(), std::memory_order_relaxed);
      published.clear();
    }
    if (!rows) return fail(rows.error());
    if (rows->empty()) return total;

    std::vector<QueueMessage> batch;
    batch.reserve(rows->size());
    for (const auto& row : *rows) batch.push_back({row.text(0), row.text(1), row.text(2)});
    if (auto sent = queue_.publish(batch); !sent) return fail(sent.error());
    for (auto& m : batch) published.push_back(std::move(m.id));
  }
}

Result<std::size_t> OutboxRelay::prune() {
  const std::string cutoff = format_time(clock_.now() - options_.retention);
  auto n = db_.transact({}, [&](db::Tx& tx) {
    return tx.execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1",
                      {cutoff});
  });
  if (!n) return fail(n.error());
  return static_cast<std::size_t>(*n);
}

void OutboxRelay::run() {
  auto next_prune = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.poll_interval, [&] { return notified_ || stopping_; });
    if (stopping_) break;
    notified_ = false;
    lock.unlock();

    auto sent = relay_due();
    if (!sent) {
      log::warn("outbox relay could not publish; retrying",
                {{"topic", options_.topic}, {"error", sent.error().detail}});
    }
    if (std::chrono::steady_clock::now() >= next_prune) {
      if (auto pruned = prune(); !pruned)
        log::warn("outbox prune failed", {{"error", pruned.error().detail}});
      next_prune = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }

    lock.lock();
    if (!sent) cv_.wait_for(lock, options_.retry_interval, [&] { return stopping_; });
  }
}

}  // namespace atrium::broker
