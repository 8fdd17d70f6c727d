#include "realtime/session.hpp"

#include "access/permissions.hpp"
#include "platform/log.hpp"

namespace atrium::realtime {

namespace {

constexpr std::size_t kMaxTaskIdLength = 128;

bool terminal(const nlohmann::json& task) {
  const auto status = task.value("status", std::string());
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

// What a session keeps of its principal: the tenant, the identity that revocation checks and the
// task lookup use, the expiry. The permission list (compiled into can_read_tasks_) and the email
// are dropped: an idle connection should cost as little as possible.
Principal kept(Principal p) {
  p.permissions = {};
  p.catalog_grants.reset();
  p.email = {};
  if (!p.org_id) p.org_id.emplace();
  return p;
}

}  // namespace

Session::Session(Principal principal, std::shared_ptr<const SessionDeps> deps)
    : can_read_tasks_(access::allows(principal.permissions, "tasks:read")),
      principal_(kept(std::move(principal))),
      deps_(std::move(deps)) {}

Session::Session(Principal principal, SessionDeps deps)
    : Session(std::move(principal), std::make_shared<const SessionDeps>(std::move(deps))) {}

Session::~Session() {
  bool closed = false;
  {
    std::lock_guard lock(mu_);
    closed = closed_;
  }
  if (!closed) deps_->hub->leave(tenant(), this);
}

void Session::on_open(std::shared_ptr<http::WebSocketConnection> connection) {
  std::lock_guard lock(mu_);
  connection_ = std::move(connection);
}

void Session::on_close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    connection_.reset();
    pending_.clear();
  }
  deps_->hub->leave(tenant(), this);
}

void Session::send(const nlohmann::json& message) {
  std::shared_ptr<http::WebSocketConnection> c;
  {
    std::lock_guard lock(mu_);
    c = connection_;
  }
  if (c) c->send(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Session::error(std::string_view code, const std::string* task_id) {
  nlohmann::json m = {{"type", "error"}, {"code", code}};
  if (task_id) m["task_id"] = *task_id;
  send(m);
}

void Session::on_message(std::string_view text) {
  auto message = nlohmann::json::parse(text, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return error("invalid_message");
  const auto action_it = message.find("action");
  const std::string action =
      action_it != message.end() && action_it->is_string() ? action_it->get<std::string>() : "";

  if (action == "ping") return send({{"type", "pong"}});

  if (action == "task-status") {
    if (!can_read_tasks_) return error("permission_denied");
    auto id = message.find("task_id");
    if (id == message.end() || id->is_null()) {
      {
        std::lock_guard lock(mu_);
        all_tasks_ = true;
      }
      deps_->hub->subscribe_all(tenant(), this);
      return;
    }
    if (!id->is_string() || id->get_ref<const std::string&>().empty() ||
        id->get_ref<const std::string&>().size() > kMaxTaskIdLength)
      return error("invalid_message");
    return subscribe_task(id->get<std::string>());
  }

  if (action == "unsubscribe") {
    auto id = message.find("task_id");
    if (id != message.end() && id->is_string()) {
      const std::string task_id = id->get<std::string>();
      {
        std::lock_guard lock(mu_);
        tasks_.erase(task_id);
        pending_.erase(task_id);
      }
      deps_->hub->unsubscribe_task(tenant(), task_id, this);
    } else {
      {
        std::lock_guard lock(mu_);
        tasks_.clear();
        pending_.clear();
        all_tasks_ = false;
      }
      deps_->hub->unsubscribe(tenant(), this);
    }
    return send({{"type", "unsubscribed"}});
  }

  error("unknown_action");
}

void Session::subscribe_task(const std::string& task_id) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (!tasks_.count(task_id) && tasks_.size() >= deps_->max_task_subscriptions) {
      nlohmann::json m = {
          {"type", "error"}, {"code", "too_many_subscriptions"}, {"task_id", task_id}};
      std::shared_ptr<http::WebSocketConnection> c = connection_;
      if (c) c->send(m.dump());
      return;
    }
    // Subscribe before reading, buffering what arrives meanwhile: nothing between the snapshot
    // and the first live event is lost.
    pending_[task_id];
  }
  deps_->hub->subscribe_task(tenant(), task_id, this);
  std::weak_ptr<Session> self = weak_from_this();
  const bool queued = deps_->run_blocking([self, task_id] {
    auto session = self.lock();
    if (!session) return;
    session->snapshot_ready(task_id, session->deps_->find_task(session->principal_, task_id));
  });
  if (!queued) snapshot_ready(task_id, fail(Error::unavailable("too busy; try again")));
}

void Session::snapshot_ready(const std::string& task_id, const Result<nlohmann::json>& task) {
  const bool finished = task && terminal(*task);
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    auto it = pending_.find(task_id);
    std::vector<std::shared_ptr<const std::string>> buffered;
    if (it != pending_.end()) {
      buffered = std::move(it->second);
      pending_.erase(it);
    }
    if (task && !finished) tasks_.insert(task_id);
    // Queued while the lock is held (send() only queues): an event delivered from now on is
    // queued after the snapshot and what was held back, never before them.
    if (task && connection_) {
      connection_->send(nlohmann::json({{"type", "task-status"}, {"task", *task}}).dump());
      if (!finished)
        for (auto& m : buffered) connection_->send(std::move(m));
    }
  }
  // A finished task has no news left, and what is still on its way is older than the snapshot.
  if (!task || finished) deps_->hub->unsubscribe_task(tenant(), task_id, this);
  if (!task) {
    if (task.error().code != Code::kNotFound)
      log::warn("task snapshot failed", {{"task_id", task_id}, {"detail", task.error().detail}});
    error(task.error().code == Code::kNotFound ? "not_found" : "unavailable", &task_id);
  }
}

void Session::deliver(const std::string& task_id, const std::shared_ptr<const std::string>& message,
                      bool) {
  std::shared_ptr<http::WebSocketConnection> c;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (!all_tasks_) {
      if (auto it = pending_.find(task_id); it != pending_.end()) {
        it->second.push_back(message);
        return;
      }
      // Unsubscribed, or finished at its snapshot, while this event was on its way.
      if (!tasks_.contains(task_id)) return;
    }
    c = connection_;
  }
  if (c) c->send(message);
}

void Session::check(TimePoint now) {
  std::shared_ptr<http::WebSocketConnection> c;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    c = connection_;
  }
  if (!c) return;
  if (principal_.expires_at && now >= *principal_.expires_at) {
    c->close(4001, "token expired");
  } else if (deps_->revoked && deps_->revoked(principal_)) {
    c->close(4001, "session revoked");
  }
}

}  // namespace atrium::realtime
