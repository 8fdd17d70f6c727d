// One WebSocket client of GET /ws: the seed's $connect / $default / task-status / $disconnect,
// as API.md specifies.
//
// Messages are routed on `action`: "task-status" (with task_id: a snapshot, then every change of
// that task; without: every task change of the organization), "unsubscribe", "ping"; anything
// else is `unknown_action`, a frame that is not a JSON object `invalid_message`. Subscribing
// needs tasks:read; another organization's task is `not_found` and no event about it ever
// reaches this session (the hub keys subscriptions by the session's own tenant). The connection
// closes with 4001 when the credential expires or is revoked.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/websocket.hpp"
#include "platform/principal.hpp"
#include "realtime/hub.hpp"

namespace atrium::realtime {

// What a session needs from the rest of the system, injected so tests can fake it.
struct SessionDeps {
  Hub* hub = nullptr;
  // The caller's task as API.md's Task object, read in the caller's tenant; Code::kNotFound for
  // a task of another organization or none. May block: it is called through `run_blocking`.
  std::function<Result<nlohmann::json>(const Principal&, const std::string& task_id)> find_task;
  // Runs work off the connection's thread (a bounded pool); false when the pool is saturated.
  std::function<bool(std::function<void()>)> run_blocking;
  // True once the principal's credential is revoked (logout, member removal, role change…).
  std::function<bool(const Principal&)> revoked;
  std::size_t max_task_subscriptions = 256;
};

class Session final : public http::WebSocketSession,
                      public Subscriber,
                      public std::enable_shared_from_this<Session> {
 public:
  // The principal must have an organization (the hub admitted it for that tenant). Sessions share
  // one SessionDeps (10,000 copies of three std::function would cost ~1 MiB).
  Session(Principal principal, std::shared_ptr<const SessionDeps> deps);
  Session(Principal principal, SessionDeps deps);
  // Leaves the hub if on_close() never ran (e.g. an accepted upgrade that was never opened), so a
  // dropped session can never stay subscribed: the hub would call into freed memory.
  ~Session() override;

  void on_open(std::shared_ptr<http::WebSocketConnection> connection) override;
  void on_message(std::string_view text) override;
  void on_close() override;

  void deliver(const std::string& task_id, const std::shared_ptr<const std::string>& message,
               bool terminal) override;
  void check(TimePoint now) override;

 private:
  void send(const nlohmann::json& message);
  void error(std::string_view code, const std::string* task_id = nullptr);
  void subscribe_task(const std::string& task_id);
  void snapshot_ready(const std::string& task_id, const Result<nlohmann::json>& task);

  const std::string& tenant() const { return *principal_.org_id; }

  // Computed from the permissions at connect, before they are dropped (see the constructor).
  const bool can_read_tasks_;
  const Principal principal_;
  const std::shared_ptr<const SessionDeps> deps_;

  std::mutex mu_;  // never held while calling the hub (it calls deliver() under its own lock)
  std::shared_ptr<http::WebSocketConnection> connection_;
  bool closed_ = false;
  bool all_tasks_ = false;
  std::set<std::string> tasks_;
  // Events that arrived for a task while its snapshot was being read: sent after the snapshot,
  // unless the snapshot already shows the task finished (they would be older news).
  std::unordered_map<std::string, std::vector<std::shared_ptr<const std::string>>> pending_;
};

}  // namespace atrium::realtime
